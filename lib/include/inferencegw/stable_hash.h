// Stable, seedless hashing and mixing: the functions every decision that must repeat (A/B arms,
// sticky picks, per-request entropy streams) is built on. Same values on every platform,
// replica, restart, and in Python.
//
//   uint64_t h = StableHash64("alice");           // Fmix64(FNV-1a-64("alice"))
//   uint64_t r1 = SplitMix64(entropy), r2 = SplitMix64(entropy + kGoldenGamma);
//   uint64_t i = MulHigh64(r1, 10);               // uniform in [0, 10)
#ifndef INFERENCEGW_STABLE_HASH_H_
#define INFERENCEGW_STABLE_HASH_H_

#include <cstdint>
#include <string_view>

namespace inferencegw {

// MurmurHash3's 64-bit finalizer: a bijection that spreads every input bit over the output.
constexpr uint64_t Fmix64(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ULL;
  k ^= k >> 33;
  return k;
}

// Fmix64(FNV-1a-64(data)): FNV offset basis 0xcbf29ce484222325, prime 0x100000001b3.
constexpr uint64_t StableHash64(std::string_view data) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : data) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return Fmix64(h);
}

inline constexpr uint64_t kGoldenGamma = 0x9e3779b97f4a7c15ULL;

// SplitMix64's output function: derives well-mixed values from a counter. The k-th value drawn
// from one request's `entropy` is SplitMix64(entropy + k * kGoldenGamma).
constexpr uint64_t SplitMix64(uint64_t x) {
  x += kGoldenGamma;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// The high 64 bits of a * b: maps a uniform `a` onto [0, b) with bias below 2^-64.
constexpr uint64_t MulHigh64(uint64_t a, uint64_t b) {
  __extension__ typedef unsigned __int128 Uint128;
  return static_cast<uint64_t>((static_cast<Uint128>(a) * b) >> 64);
}

}  // namespace inferencegw

#endif  // INFERENCEGW_STABLE_HASH_H_
