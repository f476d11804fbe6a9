// CRC-32C (Castagnoli), used to checksum every on-disk artifact (event-log blocks, bundles).
#ifndef VREC_COMMON_CRC32C_H_
#define VREC_COMMON_CRC32C_H_

#include <cstddef>
#include <cstdint>

namespace vrec {

// Extends `crc` (0 to start) with `size` bytes at `data`. Uses the SSE4.2 instruction when the
// build targets it, a table otherwise; both give the same values.
uint32_t Crc32c(const void* data, size_t size, uint32_t crc = 0);

}  // namespace vrec

#endif  // VREC_COMMON_CRC32C_H_
