// Replays fuzz inputs through a target's LLVMFuzzerTestOneInput without libFuzzer, so the normal
// (g++, ASan) builds keep every seed and every once-crashing input passing.
//
//   config_replay tests/fuzz/corpus/config tests/fuzz/crashes/config
//
// Each argument is a file or a directory (every regular file inside, recursively, in sorted
// order); a missing argument is skipped. A crash, a sanitizer report or a failed check in the
// target ends the process; otherwise exits 0 after printing how many inputs ran.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

namespace fs = std::filesystem;

void Collect(const fs::path& path, std::vector<fs::path>* files) {
  std::error_code ec;
  if (fs::is_regular_file(path, ec)) {
    files->push_back(path);
    return;
  }
  if (!fs::is_directory(path, ec)) return;
  for (const fs::directory_entry& entry : fs::recursive_directory_iterator(path, ec)) {
    if (entry.is_regular_file(ec)) files->push_back(entry.path());
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<fs::path> files;
  for (int i = 1; i < argc; ++i) {
    std::vector<fs::path> found;
    Collect(argv[i], &found);
    std::sort(found.begin(), found.end());
    files.insert(files.end(), found.begin(), found.end());
  }
  for (const fs::path& file : files) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "cannot read %s\n", file.c_str());
      return 1;
    }
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::fprintf(stderr, "%s\n", file.c_str());
    // A heap copy of exactly the input's size, so ASan sees reads past its end.
    std::vector<uint8_t> data(bytes.begin(), bytes.end());
    LLVMFuzzerTestOneInput(data.data(), data.size());
  }
  std::printf("%zu inputs replayed\n", files.size());
  return files.empty() ? 1 : 0;
}
