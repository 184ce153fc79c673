// Reading a fuzz input: a few leading control bytes (modes, chunk sizes), then the payload.
//
//   FuzzInput in(data, size);
//   const uint8_t mode = in.TakeByte();
//   std::vector<std::string_view> pieces = in.TakeChunked();  // the rest, split
#ifndef INFERENCEGW_TESTS_FUZZ_FUZZ_INPUT_H_
#define INFERENCEGW_TESTS_FUZZ_FUZZ_INPUT_H_

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

namespace inferencegw::fuzz {

// Not thread-safe. Views point into the fuzzer's buffer.
class FuzzInput {
 public:
  FuzzInput(const uint8_t* data, size_t size) : rest_(reinterpret_cast<const char*>(data), size) {}

  // The next byte, or 0 when the input is exhausted.
  uint8_t TakeByte() {
    if (rest_.empty()) return 0;
    const uint8_t b = static_cast<uint8_t>(rest_.front());
    rest_.remove_prefix(1);
    return b;
  }

  // Everything not taken yet.
  std::string_view Rest() const { return rest_; }

  // Takes one byte k, then k % 16 chunk-size bytes, and returns the rest cut into pieces whose
  // sizes cycle through those bytes (a size byte of 0 gives an empty piece, which the parsers
  // must accept too). With no size bytes the rest is one piece. The pieces joined are Rest().
  std::vector<std::string_view> TakeChunked() {
    const size_t count = TakeByte() % 16;
    std::vector<size_t> sizes;
    for (size_t i = 0; i < count; ++i) sizes.push_back(TakeByte());
    std::vector<std::string_view> pieces;
    std::string_view text = rest_;
    rest_ = {};
    if (sizes.empty()) {
      pieces.push_back(text);
      return pieces;
    }
    size_t empty_run = 0;  // all-zero sizes must not loop forever
    for (size_t i = 0; !text.empty(); i = (i + 1) % sizes.size()) {
      const size_t n = sizes[i] < text.size() ? sizes[i] : text.size();
      pieces.push_back(text.substr(0, n));
      text.remove_prefix(n);
      empty_run = n == 0 ? empty_run + 1 : 0;
      if (empty_run > sizes.size()) {
        pieces.push_back(text);
        break;
      }
    }
    return pieces;
  }

 private:
  std::string_view rest_;
};

// Fails the run (a crash libFuzzer and the replay report) when `condition` is false.
#define IGW_FUZZ_CHECK(condition)                                                        \
  do {                                                                                   \
    if (!(condition)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)

}  // namespace inferencegw::fuzz

#endif  // INFERENCEGW_TESTS_FUZZ_FUZZ_INPUT_H_
