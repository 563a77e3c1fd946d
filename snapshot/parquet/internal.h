// Internals of the Parquet reader shared between its source files. Not part of the public API.
//
// Deep inside the decoder, problems are reported by throwing FormatError (the one exception type of
// this module); every public entry point catches it and turns it into a Result error with context.
#pragma once

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "snapshot/parquet/parquet.h"

namespace hubcache::parquet::detail {

class FormatError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

[[noreturn]] void fail(const std::string& what);

// ---------------------------------------------------------------------------------------------
// Thrift compact protocol (just the reading side, with a generic skip for unknown fields).

enum class CType : uint8_t {
  kStop = 0,
  kTrue = 1,
  kFalse = 2,
  kByte = 3,
  kI16 = 4,
  kI32 = 5,
  kI64 = 6,
  kDouble = 7,
  kBinary = 8,
  kList = 9,
  kSet = 10,
  kMap = 11,
  kStruct = 12,
};

class CompactReader {
 public:
  CompactReader(const uint8_t* data, size_t size) : pos_(data), begin_(data), end_(data + size) {}

  size_t consumed() const { return static_cast<size_t>(pos_ - begin_); }

  uint64_t read_varint();
  int64_t read_zigzag() {
    uint64_t v = read_varint();
    return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
  }
  uint8_t read_byte() {
    if (pos_ >= end_) fail("thrift: unexpected end of data");
    return *pos_++;
  }
  // Integer field of any integer wire type; other wire types are rejected.
  int64_t read_int(CType type);
  int32_t read_i32(CType type);
  bool read_bool(CType type);  // a bool struct field carries its value in the type nibble
  std::string read_string(CType type);
  double read_double(CType type);

  // Calls on_field(field_id, type) for each field; the callback must consume the value (read_* or
  // skip). Nested structs are depth-limited.
  template <class F>
  void read_struct(F&& on_field) {
    if (++depth_ > kMaxDepth) fail("thrift: structs nested too deeply");
    int16_t last_id = 0;
    for (;;) {
      uint8_t header = read_byte();
      if (header == 0) break;
      CType type = static_cast<CType>(header & 0x0F);
      int delta = header >> 4;
      int16_t id =
          delta ? static_cast<int16_t>(last_id + delta) : static_cast<int16_t>(read_zigzag());
      last_id = id;
      on_field(id, type);
    }
    --depth_;
  }
  // Reads a list header; returns element count and type. The count is bounded by the remaining
  // bytes (every element takes at least one byte), so a hostile count cannot make us loop or
  // allocate.
  size_t read_list_header(CType* element_type);
  template <class F>
  void read_list(CType type, F&& on_element) {
    if (type != CType::kList && type != CType::kSet) {
      skip(type);
      return;
    }
    CType element_type;
    size_t n = read_list_header(&element_type);
    for (size_t i = 0; i < n; ++i) on_element(element_type);
  }
  void skip(CType type);

 private:
  static constexpr int kMaxDepth = 64;
  const uint8_t* pos_;
  const uint8_t* begin_;
  const uint8_t* end_;
  int depth_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Metadata

struct FileMeta {
  int32_t version = 0;
  int64_t num_rows = 0;
  Schema schema;
  std::vector<RowGroupInfo> row_groups;
  std::vector<KeyValue> key_value_metadata;
  std::string created_by;
};

// Parses FileMetaData and builds the schema tree; validates row groups against the schema.
FileMeta parse_file_metadata(const uint8_t* data, size_t size, const ReadLimits& limits);

enum class PageType : int8_t {
  kDataPage = 0,
  kIndexPage = 1,
  kDictionaryPage = 2,
  kDataPageV2 = 3
};

enum Encoding : int32_t {
  kPlain = 0,
  kPlainDictionary = 2,
  kRle = 3,
  kBitPacked = 4,
  kDeltaBinaryPacked = 5,
  kDeltaLengthByteArray = 6,
  kDeltaByteArray = 7,
  kRleDictionary = 8,
  kByteStreamSplit = 9,
};

struct PageHeader {
  int32_t type = -1;
  int32_t uncompressed_size = -1;
  int32_t compressed_size = -1;
  int32_t num_values = -1;
  int32_t encoding = kPlain;
  int32_t def_encoding = kRle;
  int32_t rep_encoding = kRle;
  // v2 only
  int32_t num_nulls = 0;
  int32_t num_rows = 0;
  int32_t def_levels_bytes = 0;
  int32_t rep_levels_bytes = 0;
  bool is_compressed = true;
  size_t header_size = 0;  // bytes taken by the thrift header itself
};

PageHeader parse_page_header(const uint8_t* data, size_t size);

// ---------------------------------------------------------------------------------------------
// Codecs

// Decompresses `in` into exactly `out_size` bytes at `out`.
void decompress(Codec codec, const uint8_t* in, size_t in_size, uint8_t* out, size_t out_size);

// ---------------------------------------------------------------------------------------------
// Encodings

inline int bit_width_for(uint32_t max_value) {
  int w = 0;
  while (max_value) {
    ++w;
    max_value >>= 1;
  }
  return w;
}

// Reads `count` values of `bit_width` (<= 32) bits from the RLE/bit-packed hybrid stream `data`.
// `count` is the number of values the caller expects; a stream that ends early is an error.
void decode_rle_hybrid(const uint8_t* data, size_t size, int bit_width, size_t count,
                       uint32_t* out);
// Same, into 16-bit levels, checking every level is <= max_level.
void decode_levels_rle(const uint8_t* data, size_t size, int16_t max_level, size_t count,
                       int16_t* out);
// Deprecated BIT_PACKED levels (MSB first, no length prefix). Returns bytes consumed.
size_t decode_levels_bit_packed(const uint8_t* data, size_t size, int16_t max_level, size_t count,
                                int16_t* out);

// DELTA_BINARY_PACKED. Returns bytes consumed. Values are produced with wrapping 64-bit arithmetic;
// callers of INT32 columns truncate.
class DeltaBinaryPackedDecoder {
 public:
  DeltaBinaryPackedDecoder(const uint8_t* data, size_t size);
  uint64_t total_values() const { return total_; }
  // Decodes the next n values; asking for more than total_values() is an error.
  void decode(uint64_t* out, size_t n);
  // Bytes consumed so far, counting whole miniblocks/blocks that were started.
  size_t consumed() const { return static_cast<size_t>(pos_ - begin_); }

 private:
  void start_block();
  const uint8_t* begin_;
  const uint8_t* pos_;
  const uint8_t* end_;
  uint64_t block_size_ = 0;
  uint64_t miniblocks_ = 0;
  uint64_t values_per_miniblock_ = 0;
  uint64_t total_ = 0;
  uint64_t produced_ = 0;
  uint64_t last_ = 0;
  // current block state
  uint64_t min_delta_ = 0;
  uint8_t widths_[256];
  uint64_t miniblock_index_ = 0;
  uint64_t in_miniblock_ = 0;  // values already read from the current miniblock
  const uint8_t* miniblock_data_ = nullptr;
  size_t miniblock_size_ = 0;
  bool block_open_ = false;
};

// Reads `bit_width` (<= 64) bits at bit offset `bit` of data[0..size) (bits past `size` read as 0).
inline uint64_t read_bits(const uint8_t* data, size_t size, uint64_t bit, int bit_width) {
  size_t byte = static_cast<size_t>(bit >> 3);
  int shift = static_cast<int>(bit & 7);
  uint8_t tmp[16] = {0};
  size_t avail = byte < size ? size - byte : 0;
  size_t take = avail < 9 ? avail : 9;
  if (take) std::memcpy(tmp, data + byte, take);
  uint64_t lo;
  std::memcpy(&lo, tmp, 8);
  uint64_t v = lo >> shift;
  if (shift && bit_width + shift > 64) v |= static_cast<uint64_t>(tmp[8]) << (64 - shift);
  return bit_width == 64 ? v : (v & ((uint64_t{1} << bit_width) - 1));
}

}  // namespace hubcache::parquet::detail
