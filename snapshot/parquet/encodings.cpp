// Level and integer encodings: the RLE/bit-packed hybrid, deprecated BIT_PACKED levels and
// DELTA_BINARY_PACKED. Every read is bounds-checked against the buffer it comes from.
#include <algorithm>

#include "snapshot/parquet/internal.h"

namespace hubcache::parquet::detail {
namespace {

uint64_t read_uleb(const uint8_t*& p, const uint8_t* end, const char* what) {
  uint64_t result = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (p >= end) fail(std::string(what) + ": truncated varint");
    uint8_t b = *p++;
    result |= static_cast<uint64_t>(b & 0x7F) << shift;
    if (!(b & 0x80)) return result;
  }
  fail(std::string(what) + ": varint too long");
}

// Unpacks `count` LSB-first values of `bit_width` (<= 32) bits from data[0..size). The caller has
// checked that size covers count * bit_width bits.
template <class T>
void unpack_lsb(const uint8_t* data, size_t size, int bit_width, size_t count, T* out,
                uint32_t max_value) {
  if (bit_width == 0) {
    std::fill(out, out + count, T{0});
    return;
  }
  const uint64_t mask = (uint64_t{1} << bit_width) - 1;
  uint32_t seen_max = 0;
  uint64_t bit = 0;
  size_t i = 0;
  // Fast path: an 8-byte window always covers shift (<= 7) + bit_width (<= 32) bits.
  for (; i < count; ++i, bit += static_cast<uint64_t>(bit_width)) {
    size_t byte = static_cast<size_t>(bit >> 3);
    if (byte + 8 > size) break;
    uint64_t word;
    std::memcpy(&word, data + byte, 8);
    uint32_t v = static_cast<uint32_t>((word >> (bit & 7)) & mask);
    seen_max = std::max(seen_max, v);
    out[i] = static_cast<T>(v);
  }
  for (; i < count; ++i, bit += static_cast<uint64_t>(bit_width)) {
    uint32_t v = static_cast<uint32_t>(read_bits(data, size, bit, bit_width));
    seen_max = std::max(seen_max, v);
    out[i] = static_cast<T>(v);
  }
  if (seen_max > max_value)
    fail("RLE/bit-packed value " + std::to_string(seen_max) + " exceeds " +
         std::to_string(max_value));
}

template <class T>
void rle_hybrid(const uint8_t* data, size_t size, int bit_width, size_t count, T* out,
                uint32_t max_value) {
  if (bit_width < 0 || bit_width > 32)
    fail("RLE bit width " + std::to_string(bit_width) + " out of range");
  const uint8_t* p = data;
  const uint8_t* end = data + size;
  const size_t value_bytes = static_cast<size_t>((bit_width + 7) / 8);
  size_t produced = 0;
  while (produced < count) {
    if (p >= end)
      fail("RLE stream ended after " + std::to_string(produced) + " of " + std::to_string(count) +
           " values");
    uint64_t header = read_uleb(p, end, "RLE");
    if (header & 1) {
      uint64_t groups = header >> 1;
      if (groups > (uint64_t{1} << 40)) fail("RLE: bit-packed run too long");
      uint64_t run_values = groups * 8;
      uint64_t run_bytes = groups * static_cast<uint64_t>(bit_width);
      size_t avail = static_cast<size_t>(end - p);
      size_t take = static_cast<size_t>(std::min<uint64_t>(run_values, count - produced));
      uint64_t needed_bytes =
          (static_cast<uint64_t>(take) * static_cast<uint64_t>(bit_width) + 7) / 8;
      if (needed_bytes > avail) fail("RLE: bit-packed run past the end of data");
      unpack_lsb(p,
                 std::min<size_t>(avail, static_cast<size_t>(std::min<uint64_t>(run_bytes, avail))),
                 bit_width, take, out + produced, max_value);
      produced += take;
      p += std::min<uint64_t>(run_bytes, avail);
    } else {
      uint64_t run = header >> 1;
      if (static_cast<size_t>(end - p) < value_bytes) fail("RLE: run value past the end of data");
      uint32_t value = 0;
      for (size_t b = 0; b < value_bytes; ++b) value |= static_cast<uint32_t>(p[b]) << (8 * b);
      p += value_bytes;
      if (run == 0) continue;
      if (value > max_value)
        fail("RLE run value " + std::to_string(value) + " exceeds " + std::to_string(max_value));
      size_t take = static_cast<size_t>(std::min<uint64_t>(run, count - produced));
      std::fill(out + produced, out + produced + take, static_cast<T>(value));
      produced += take;
    }
  }
}

}  // namespace

void decode_rle_hybrid(const uint8_t* data, size_t size, int bit_width, size_t count,
                       uint32_t* out) {
  rle_hybrid(data, size, bit_width, count, out, UINT32_MAX);
}

void decode_levels_rle(const uint8_t* data, size_t size, int16_t max_level, size_t count,
                       int16_t* out) {
  rle_hybrid(data, size, bit_width_for(static_cast<uint32_t>(max_level)), count, out,
             static_cast<uint32_t>(max_level));
}

size_t decode_levels_bit_packed(const uint8_t* data, size_t size, int16_t max_level, size_t count,
                                int16_t* out) {
  int bit_width = bit_width_for(static_cast<uint32_t>(max_level));
  uint64_t bytes = (static_cast<uint64_t>(count) * static_cast<uint64_t>(bit_width) + 7) / 8;
  if (bytes > size) fail("BIT_PACKED levels past the end of the page");
  uint64_t bit = 0;
  for (size_t i = 0; i < count; ++i) {
    uint32_t v = 0;
    for (int b = 0; b < bit_width; ++b, ++bit)  // most significant bit first
      v = (v << 1) | ((data[bit >> 3] >> (7 - (bit & 7))) & 1);
    if (v > static_cast<uint32_t>(max_level)) fail("BIT_PACKED level exceeds the maximum level");
    out[i] = static_cast<int16_t>(v);
  }
  return static_cast<size_t>(bytes);
}

// ---------------------------------------------------------------------------------------------

DeltaBinaryPackedDecoder::DeltaBinaryPackedDecoder(const uint8_t* data, size_t size)
    : begin_(data), pos_(data), end_(data + size) {
  block_size_ = read_uleb(pos_, end_, "DELTA_BINARY_PACKED");
  miniblocks_ = read_uleb(pos_, end_, "DELTA_BINARY_PACKED");
  total_ = read_uleb(pos_, end_, "DELTA_BINARY_PACKED");
  uint64_t zz = read_uleb(pos_, end_, "DELTA_BINARY_PACKED");
  last_ = (zz >> 1) ^ (~(zz & 1) + 1);
  if (block_size_ == 0 || block_size_ % 128 != 0 || block_size_ > (1u << 20))
    fail("DELTA_BINARY_PACKED: invalid block size " + std::to_string(block_size_));
  if (miniblocks_ == 0 || miniblocks_ > 256 || block_size_ % miniblocks_ != 0)
    fail("DELTA_BINARY_PACKED: invalid miniblock count " + std::to_string(miniblocks_));
  values_per_miniblock_ = block_size_ / miniblocks_;
  if (values_per_miniblock_ % 32 != 0)
    fail("DELTA_BINARY_PACKED: miniblock size not a multiple of 32");
}

void DeltaBinaryPackedDecoder::start_block() {
  uint64_t zz = read_uleb(pos_, end_, "DELTA_BINARY_PACKED");
  min_delta_ = (zz >> 1) ^ (~(zz & 1) + 1);
  if (static_cast<uint64_t>(end_ - pos_) < miniblocks_)
    fail("DELTA_BINARY_PACKED: truncated block header");
  for (uint64_t i = 0; i < miniblocks_; ++i) {
    widths_[i] = pos_[i];
  }
  pos_ += miniblocks_;
  miniblock_index_ = 0;
  block_open_ = true;
}

void DeltaBinaryPackedDecoder::decode(uint64_t* out, size_t n) {
  if (n > total_ - produced_) fail("DELTA_BINARY_PACKED: more values requested than encoded");
  size_t i = 0;
  if (n && produced_ == 0) {
    out[i++] = last_;
    ++produced_;
  }
  while (i < n) {
    if (!block_open_ || in_miniblock_ == values_per_miniblock_) {
      if (block_open_) ++miniblock_index_;
      if (!block_open_ || miniblock_index_ == miniblocks_) start_block();
      int width = widths_[miniblock_index_];
      if (width > 64) fail("DELTA_BINARY_PACKED: bit width " + std::to_string(width) + " over 64");
      uint64_t full_bytes = values_per_miniblock_ * static_cast<uint64_t>(width) / 8;
      uint64_t wanted = std::min<uint64_t>(values_per_miniblock_, total_ - produced_);
      uint64_t needed = (wanted * static_cast<uint64_t>(width) + 7) / 8;
      size_t avail = static_cast<size_t>(end_ - pos_);
      if (needed > avail) fail("DELTA_BINARY_PACKED: miniblock past the end of data");
      miniblock_data_ = pos_;
      miniblock_size_ = static_cast<size_t>(std::min<uint64_t>(full_bytes, avail));
      pos_ += miniblock_size_;
      in_miniblock_ = 0;
    }
    int width = widths_[miniblock_index_];
    size_t take =
        static_cast<size_t>(std::min<uint64_t>(n - i, values_per_miniblock_ - in_miniblock_));
    uint64_t bit = in_miniblock_ * static_cast<uint64_t>(width);
    uint64_t value = last_;
    if (width == 0) {
      for (size_t k = 0; k < take; ++k) {
        value += min_delta_;
        out[i + k] = value;
      }
    } else {
      for (size_t k = 0; k < take; ++k, bit += static_cast<uint64_t>(width)) {
        value += min_delta_ + read_bits(miniblock_data_, miniblock_size_, bit, width);
        out[i + k] = value;
      }
    }
    last_ = value;
    i += take;
    in_miniblock_ += take;
    produced_ += take;
  }
}

}  // namespace hubcache::parquet::detail
