// Deterministic random numbers: the same seed gives the same stream on every platform and
// compiler (std:: distributions do not guarantee that). Used by the world generator, samplers
// and the random baseline.
#ifndef VREC_COMMON_RANDOM_H_
#define VREC_COMMON_RANDOM_H_

#include <cmath>
#include <cstdint>
#include <vector>

namespace vrec {

// SplitMix64, to seed and to hash.
inline uint64_t SplitMix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// xoshiro256** with portable distributions. Not thread-safe; give each thread its own,
// seeded with Rng(seed).Fork(thread_index) or Rng(SplitMix64(seed ^ id)).
class Rng {
 public:
  explicit Rng(uint64_t seed) {
    uint64_t x = seed;
    for (uint64_t& s : s_) s = x = SplitMix64(x);
  }

  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }

  // An independent stream derived from this one's seed material and `stream`.
  Rng Fork(uint64_t stream) const { return Rng(SplitMix64(s_[0] ^ SplitMix64(stream))); }

  // Uniform in [0, 1).
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  // Uniform integer in [0, n); n > 0.
  uint64_t UniformInt(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(Next()) * n) >> 64);
  }
  bool Bernoulli(double p) { return Uniform() < p; }
  // Standard normal (Box-Muller; the second value is discarded for simplicity).
  double Normal() {
    double u1 = Uniform();
    while (u1 <= 0.0) u1 = Uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * Uniform());
  }
  double Normal(double mean, double stddev) { return mean + stddev * Normal(); }
  double LogNormal(double mu, double sigma) { return std::exp(Normal(mu, sigma)); }
  // Exponential with the given mean.
  double Exponential(double mean) { return -mean * std::log(1.0 - Uniform()); }
  // Gamma(shape, 1) by Marsaglia-Tsang.
  double Gamma(double shape);

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

// Walker's alias method: O(1) sampling from a fixed discrete distribution.
class AliasTable {
 public:
  AliasTable() = default;
  // Weights must be non-negative with a positive sum.
  explicit AliasTable(const std::vector<double>& weights);
  uint32_t Sample(Rng& rng) const;
  size_t size() const { return prob_.size(); }

 private:
  std::vector<float> prob_;
  std::vector<uint32_t> alias_;
};

}  // namespace vrec

#endif  // VREC_COMMON_RANDOM_H_
