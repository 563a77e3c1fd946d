// Decodes one column chunk (all its pages) into a ColumnData: levels plus dense values.
#include "snapshot/parquet/column_reader.h"

#include <algorithm>

namespace hubcache::parquet::detail {
namespace {

int32_t value_width_of(const ColumnDescriptor& column) {
  switch (column.node->physical) {
    case PhysicalType::kBoolean:
      return 1;
    case PhysicalType::kInt32:
    case PhysicalType::kFloat:
      return 4;
    case PhysicalType::kInt64:
    case PhysicalType::kDouble:
      return 8;
    case PhysicalType::kInt96:
      return 12;
    case PhysicalType::kFixedLenByteArray:
      return column.node->type_length;
    case PhysicalType::kByteArray:
      return 0;
  }
  return 0;
}

uint32_t read_u32_le(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// memcpy that accepts empty ranges with null pointers (empty pages, empty buffers).
inline void copy_bytes(void* dst, const void* src, size_t n) {
  if (n) std::memcpy(dst, src, n);
}

std::string encoding_name(int32_t e) {
  switch (e) {
    case kPlain:
      return "PLAIN";
    case kPlainDictionary:
      return "PLAIN_DICTIONARY";
    case kRle:
      return "RLE";
    case kBitPacked:
      return "BIT_PACKED";
    case kDeltaBinaryPacked:
      return "DELTA_BINARY_PACKED";
    case kDeltaLengthByteArray:
      return "DELTA_LENGTH_BYTE_ARRAY";
    case kDeltaByteArray:
      return "DELTA_BYTE_ARRAY";
    case kRleDictionary:
      return "RLE_DICTIONARY";
    case kByteStreamSplit:
      return "BYTE_STREAM_SPLIT";
  }
  return "encoding #" + std::to_string(e);
}

}  // namespace

ChunkDecoder::ChunkDecoder(const ColumnDescriptor& column, const ColumnChunkInfo& info,
                           const ReadLimits& limits, int64_t row_group_rows,
                           PodBuffer<uint8_t>& page_scratch)
    : column_(column),
      info_(info),
      limits_(limits),
      row_group_rows_(row_group_rows),
      width_(value_width_of(column)),
      page_buffer_(page_scratch) {}

void ChunkDecoder::charge(uint64_t bytes) {
  if (bytes > limits_.max_column_chunk_bytes || used_ > limits_.max_column_chunk_bytes - bytes)
    fail("column chunk decodes to more than " + std::to_string(limits_.max_column_chunk_bytes) +
         " bytes (ReadLimits::max_column_chunk_bytes)");
  used_ += bytes;
}

void ChunkDecoder::decode(const uint8_t* chunk, size_t size, ColumnData& out) {
  out.column = &column_;
  out.value_width = width_;
  out.num_levels = 0;
  out.num_values = 0;
  if (column_.node->physical == PhysicalType::kByteArray) out.offsets.push_back(0);
  dictionary_.value_width = width_;

  reserve_output(size, out);
  size_t pos = 0;
  const int64_t expected = info_.num_values;
  while (pos < size && out.num_levels < expected) {
    PageHeader header = parse_page_header(chunk + pos, size - pos);
    pos += header.header_size;
    if (static_cast<uint64_t>(header.compressed_size) > size - pos)
      fail("page at chunk offset " + std::to_string(pos) +
           " extends past the end of the column chunk");
    if (static_cast<uint64_t>(header.uncompressed_size) > limits_.max_page_bytes ||
        static_cast<uint64_t>(header.compressed_size) > limits_.max_page_bytes)
      fail("page larger than ReadLimits::max_page_bytes");
    const uint8_t* page = chunk + pos;
    pos += static_cast<size_t>(header.compressed_size);
    switch (static_cast<PageType>(header.type)) {
      case PageType::kIndexPage:
        break;
      case PageType::kDictionaryPage:
        read_dictionary_page(header, page);
        break;
      case PageType::kDataPage:
        read_data_page_v1(header, page, out);
        break;
      case PageType::kDataPageV2:
        read_data_page_v2(header, page, out);
        break;
    }
  }
  if (out.num_levels < expected)
    fail("column chunk ended after " + std::to_string(out.num_levels) + " of " +
         std::to_string(expected) + " values");
  check_rows(out);
}

// Sizes the output buffers once from the chunk metadata, instead of growing them page by page (each
// doubling copies and page-faults). Only a hint: capped by what the chunk's bytes can plausibly
// expand to, so a hostile size field cannot make us reserve gigabytes.
void ChunkDecoder::reserve_output(size_t chunk_size, ColumnData& out) {
  const uint64_t plausible =
      std::min<uint64_t>(limits_.max_column_chunk_bytes, uint64_t{chunk_size} * 16 + (1u << 20));
  const uint64_t levels =
      std::min<uint64_t>(static_cast<uint64_t>(info_.num_values), plausible / 4);
  if (column_.max_def > 0) out.def_levels.reserve(static_cast<size_t>(levels));
  if (column_.max_rep > 0) out.rep_levels.reserve(static_cast<size_t>(levels));
  if (width_ > 0) {
    out.fixed.reserve(
        static_cast<size_t>(std::min<uint64_t>(levels * static_cast<uint64_t>(width_), plausible)));
  } else {
    out.offsets.reserve(static_cast<size_t>(levels + 1));
    uint64_t bytes = std::min<uint64_t>(
        static_cast<uint64_t>(std::max<int64_t>(info_.total_uncompressed_size, 0)), plausible);
    out.bytes.reserve(static_cast<size_t>(bytes));
  }
}

void ChunkDecoder::check_rows(const ColumnData& out) {
  int64_t rows = out.num_levels;
  if (column_.max_rep > 0) {
    if (out.num_levels > 0 && out.rep_levels[0] != 0) fail("repetition levels do not start at 0");
    rows = std::count(out.rep_levels.data(), out.rep_levels.data() + out.rep_levels.size(),
                      int16_t{0});
  }
  if (rows != row_group_rows_)
    fail("column holds " + std::to_string(rows) + " rows but the row group has " +
         std::to_string(row_group_rows_));
}

const uint8_t* ChunkDecoder::decompress_page(const uint8_t* data, size_t compressed,
                                             size_t uncompressed) {
  if (info_.codec == Codec::kUncompressed) {
    if (compressed != uncompressed)
      fail("uncompressed page: compressed and uncompressed sizes differ");
    return data;
  }
  // The page buffer is scratch, but it must fit the chunk budget: a tiny page may claim gigabytes.
  if (uncompressed > limits_.max_column_chunk_bytes - used_)
    fail("page decompresses to more than the remaining ReadLimits::max_column_chunk_bytes");
  page_buffer_.resize(std::max<size_t>(uncompressed, 1));
  if (compressed == 0) {
    if (uncompressed != 0) fail("empty compressed page declares a non-empty uncompressed size");
    return page_buffer_.data();
  }
  decompress(info_.codec, data, compressed, page_buffer_.data(), uncompressed);
  return page_buffer_.data();
}

// Checks and charges the level entries a page is about to add.
void ChunkDecoder::begin_page(int64_t num_values, ColumnData& out) {
  if (column_.max_rep == 0 && out.num_levels + num_values > row_group_rows_)
    fail("pages hold more values than the row group has rows");
  // 4 bytes per entry cover the scratch space (dictionary indices, deltas) besides the level
  // streams.
  uint64_t level_bytes = static_cast<uint64_t>(num_values) *
                         (4u + (column_.max_def > 0 ? 2u : 0u) + (column_.max_rep > 0 ? 2u : 0u));
  charge(level_bytes);
}

size_t ChunkDecoder::count_values(const ColumnData& out, int64_t first_level, int64_t num_levels) {
  if (column_.max_def == 0) return static_cast<size_t>(num_levels);
  const int16_t* d = out.def_levels.data() + first_level;
  const int16_t max_def = column_.max_def;
  size_t n = 0;
  for (int64_t i = 0; i < num_levels; ++i) n += d[i] == max_def;
  return n;
}

void ChunkDecoder::read_data_page_v1(const PageHeader& header, const uint8_t* data,
                                     ColumnData& out) {
  const int64_t n = header.num_values;
  begin_page(n, out);
  size_t size = static_cast<size_t>(header.uncompressed_size);
  const uint8_t* page = decompress_page(data, static_cast<size_t>(header.compressed_size), size);
  size_t pos = 0;
  auto read_levels = [&](int16_t max_level, int32_t encoding, PodBuffer<int16_t>& levels) {
    int16_t* dst = levels.grow(static_cast<size_t>(n));
    if (encoding == kRle) {
      if (size - pos < 4) fail("level length past the end of the page");
      uint32_t length = read_u32_le(page + pos);
      pos += 4;
      if (length > size - pos) fail("level data past the end of the page");
      decode_levels_rle(page + pos, length, max_level, static_cast<size_t>(n), dst);
      pos += length;
    } else if (encoding == kBitPacked) {
      pos +=
          decode_levels_bit_packed(page + pos, size - pos, max_level, static_cast<size_t>(n), dst);
    } else {
      fail("unsupported level encoding " + encoding_name(encoding));
    }
  };
  if (column_.max_rep > 0) read_levels(column_.max_rep, header.rep_encoding, out.rep_levels);
  if (column_.max_def > 0) read_levels(column_.max_def, header.def_encoding, out.def_levels);
  size_t values = count_values(out, out.num_levels, n);
  out.num_levels += n;
  decode_values(header.encoding, page + pos, size - pos, values, out);
}

void ChunkDecoder::read_data_page_v2(const PageHeader& header, const uint8_t* data,
                                     ColumnData& out) {
  const int64_t n = header.num_values;
  begin_page(n, out);
  size_t compressed = static_cast<size_t>(header.compressed_size);
  size_t rep_bytes = static_cast<size_t>(header.rep_levels_bytes);
  size_t def_bytes = static_cast<size_t>(header.def_levels_bytes);
  if (rep_bytes + def_bytes > compressed ||
      rep_bytes + def_bytes > static_cast<size_t>(header.uncompressed_size))
    fail("v2 page: level lengths exceed the page size");
  // Levels come first, never compressed and without length prefixes.
  if (column_.max_rep > 0)
    decode_levels_rle(data, rep_bytes, column_.max_rep, static_cast<size_t>(n),
                      out.rep_levels.grow(static_cast<size_t>(n)));
  if (column_.max_def > 0)
    decode_levels_rle(data + rep_bytes, def_bytes, column_.max_def, static_cast<size_t>(n),
                      out.def_levels.grow(static_cast<size_t>(n)));
  size_t values = count_values(out, out.num_levels, n);
  out.num_levels += n;

  const uint8_t* value_data = data + rep_bytes + def_bytes;
  size_t value_compressed = compressed - rep_bytes - def_bytes;
  size_t value_size = static_cast<size_t>(header.uncompressed_size) - rep_bytes - def_bytes;
  if (header.is_compressed && info_.codec != Codec::kUncompressed) {
    value_data = decompress_page(value_data, value_compressed, value_size);
  } else if (value_compressed != value_size) {
    fail("v2 page: uncompressed values with differing sizes");
  }
  decode_values(header.encoding, value_data, value_size, values, out);
}

void ChunkDecoder::read_dictionary_page(const PageHeader& header, const uint8_t* data) {
  if (header.encoding != kPlain && header.encoding != kPlainDictionary)
    fail("dictionary page with unsupported encoding " + encoding_name(header.encoding));
  size_t size = static_cast<size_t>(header.uncompressed_size);
  const uint8_t* page = decompress_page(data, static_cast<size_t>(header.compressed_size), size);
  dictionary_.fixed.clear();
  dictionary_.offsets.clear();
  dictionary_.bytes.clear();
  dictionary_.num_values = 0;
  if (column_.node->physical == PhysicalType::kByteArray) dictionary_.offsets.push_back(0);
  // Every dictionary entry takes at least one byte on the page (BOOLEAN cannot be dictionary
  // encoded sensibly, but is bounded by the bit count anyway).
  if (static_cast<uint64_t>(header.num_values) > static_cast<uint64_t>(size) * 8)
    fail("dictionary page claims more entries than it has bytes");
  decode_plain(page, size, static_cast<size_t>(header.num_values), dictionary_);
  has_dictionary_ = true;
}

void ChunkDecoder::decode_values(int32_t encoding, const uint8_t* data, size_t size, size_t n,
                                 ColumnData& out) {
  if (n == 0) return;
  switch (encoding) {
    case kPlain:
      decode_plain(data, size, n, out);
      break;
    case kPlainDictionary:
    case kRleDictionary:
      decode_dictionary_indices(data, size, n, out);
      break;
    case kRle:
      if (column_.node->physical != PhysicalType::kBoolean)
        fail("RLE values on a non-boolean column");
      decode_rle_booleans(data, size, n, out);
      break;
    case kDeltaBinaryPacked:
      decode_delta_binary_packed(data, size, n, out);
      break;
    case kDeltaLengthByteArray:
      decode_delta_length_byte_array(data, size, n, out);
      break;
    case kDeltaByteArray:
      decode_delta_byte_array(data, size, n, out);
      break;
    case kByteStreamSplit:
      decode_byte_stream_split(data, size, n, out);
      break;
    default:
      fail("unsupported value encoding " + encoding_name(encoding));
  }
  out.num_values += static_cast<int64_t>(n);
}

// PLAIN into `out` (which may be the dictionary). Does not touch out.num_values except for the
// dictionary, whose count is its entry count.
void ChunkDecoder::decode_plain(const uint8_t* data, size_t size, size_t n, ColumnData& out) {
  const PhysicalType type = column_.node->physical;
  if (type == PhysicalType::kBoolean) {
    if ((n + 7) / 8 > size) fail("PLAIN booleans past the end of the page");
    charge(n);
    uint8_t* dst = out.fixed.grow(n);
    for (size_t i = 0; i < n; ++i) dst[i] = (data[i >> 3] >> (i & 7)) & 1;
  } else if (type == PhysicalType::kByteArray) {
    if (n > size / 4) fail("PLAIN byte arrays: more values than the page can hold");
    // The value bytes are bounded by the page size; charge that up front.
    charge(size + n * sizeof(uint64_t));
    uint64_t* offsets = out.offsets.grow(n);
    char* bytes_base = nullptr;
    size_t base = out.bytes.size();
    out.bytes.reserve(base + size);
    bytes_base = out.bytes.data();
    size_t written = 0;
    size_t pos = 0;
    for (size_t i = 0; i < n; ++i) {
      if (size - pos < 4) fail("PLAIN byte array length past the end of the page");
      uint32_t length = read_u32_le(data + pos);
      pos += 4;
      if (length > size - pos) fail("PLAIN byte array value past the end of the page");
      copy_bytes(bytes_base + base + written, data + pos, length);
      pos += length;
      written += length;
      offsets[i] = base + written;
    }
    out.bytes.resize(base + written);
  } else {
    uint64_t bytes = static_cast<uint64_t>(n) * static_cast<uint64_t>(width_);
    if (bytes > size) fail("PLAIN values past the end of the page");
    charge(bytes);
    copy_bytes(out.fixed.grow(static_cast<size_t>(bytes)), data, static_cast<size_t>(bytes));
  }
  if (&out == &dictionary_) out.num_values = static_cast<int64_t>(n);
}

void ChunkDecoder::decode_dictionary_indices(const uint8_t* data, size_t size, size_t n,
                                             ColumnData& out) {
  if (!has_dictionary_) fail("dictionary-encoded page without a dictionary page");
  if (size < 1) fail("dictionary-encoded page without a bit width");
  int bit_width = data[0];
  if (bit_width > 32) fail("dictionary index bit width " + std::to_string(bit_width) + " over 32");
  const size_t dict_size = static_cast<size_t>(dictionary_.num_values);
  if (dict_size == 0) fail("dictionary-encoded values with an empty dictionary");
  indices_.resize(n);
  // Bounded by the budget check of the caller's level charge: n <= num_levels of the page.
  uint32_t* idx = indices_.data();
  decode_rle_hybrid(data + 1, size - 1, bit_width, n, idx);
  for (size_t i = 0; i < n; ++i)
    if (idx[i] >= dict_size) fail("dictionary index " + std::to_string(idx[i]) + " out of range");

  if (column_.node->physical == PhysicalType::kByteArray) {
    const uint64_t* dict_offsets = dictionary_.offsets.data();
    const char* dict_bytes = dictionary_.bytes.data();
    uint64_t total = 0;
    for (size_t i = 0; i < n; ++i) total += dict_offsets[idx[i] + 1] - dict_offsets[idx[i]];
    charge(total + n * sizeof(uint64_t));
    uint64_t* offsets = out.offsets.grow(n);
    size_t base = out.bytes.size();
    char* dst = out.bytes.grow(static_cast<size_t>(total));
    uint64_t written = 0;
    for (size_t i = 0; i < n; ++i) {
      uint64_t begin = dict_offsets[idx[i]];
      uint64_t length = dict_offsets[idx[i] + 1] - begin;
      copy_bytes(dst + written, dict_bytes + begin, static_cast<size_t>(length));
      written += length;
      offsets[i] = base + written;
    }
    return;
  }
  const size_t w = static_cast<size_t>(width_);
  charge(static_cast<uint64_t>(n) * w);
  uint8_t* dst = out.fixed.grow(n * w);
  const uint8_t* dict = dictionary_.fixed.data();
  switch (w) {
    case 4:
      for (size_t i = 0; i < n; ++i)
        copy_bytes(dst + i * 4, dict + static_cast<size_t>(idx[i]) * 4, 4);
      break;
    case 8:
      for (size_t i = 0; i < n; ++i)
        copy_bytes(dst + i * 8, dict + static_cast<size_t>(idx[i]) * 8, 8);
      break;
    default:
      for (size_t i = 0; i < n; ++i)
        copy_bytes(dst + i * w, dict + static_cast<size_t>(idx[i]) * w, w);
  }
}

void ChunkDecoder::decode_rle_booleans(const uint8_t* data, size_t size, size_t n,
                                       ColumnData& out) {
  if (size < 4) fail("RLE booleans without a length prefix");
  uint32_t length = read_u32_le(data);
  if (length > size - 4) fail("RLE booleans past the end of the page");
  charge(n);
  indices_.resize(n);
  decode_rle_hybrid(data + 4, length, 1, n, indices_.data());
  uint8_t* dst = out.fixed.grow(n);
  for (size_t i = 0; i < n; ++i) dst[i] = static_cast<uint8_t>(indices_[i] != 0);
}

void ChunkDecoder::decode_delta_binary_packed(const uint8_t* data, size_t size, size_t n,
                                              ColumnData& out) {
  const PhysicalType type = column_.node->physical;
  if (type != PhysicalType::kInt32 && type != PhysicalType::kInt64)
    fail("DELTA_BINARY_PACKED on a non-integer column");
  DeltaBinaryPackedDecoder decoder(data, size);
  if (decoder.total_values() < n) fail("DELTA_BINARY_PACKED holds fewer values than the page");
  charge(static_cast<uint64_t>(n) * static_cast<uint64_t>(width_));
  deltas_.resize(n);
  decoder.decode(deltas_.data(), n);
  if (type == PhysicalType::kInt64) {
    copy_bytes(out.fixed.grow(n * 8), deltas_.data(), n * 8);
  } else {
    uint8_t* dst = out.fixed.grow(n * 4);
    for (size_t i = 0; i < n; ++i) {
      uint32_t v = static_cast<uint32_t>(deltas_[i]);
      copy_bytes(dst + i * 4, &v, 4);
    }
  }
}

// Lengths (DELTA_BINARY_PACKED) followed by the concatenated bytes. Returns bytes consumed.
size_t ChunkDecoder::decode_lengths(const uint8_t* data, size_t size, size_t n,
                                    PodBuffer<uint64_t>& lengths) {
  DeltaBinaryPackedDecoder decoder(data, size);
  if (decoder.total_values() != n)
    fail("delta lengths: " + std::to_string(decoder.total_values()) + " lengths for " +
         std::to_string(n) + " values");
  lengths.resize(n);
  decoder.decode(lengths.data(), n);
  return decoder.consumed();
}

void ChunkDecoder::decode_delta_length_byte_array(const uint8_t* data, size_t size, size_t n,
                                                  ColumnData& out) {
  if (column_.node->physical != PhysicalType::kByteArray)
    fail("DELTA_LENGTH_BYTE_ARRAY on a non-byte-array column");
  size_t pos = decode_lengths(data, size, n, deltas_);
  uint64_t total = 0;
  for (size_t i = 0; i < n; ++i) {
    if (deltas_[i] > size) fail("DELTA_LENGTH_BYTE_ARRAY: invalid length");
    total += deltas_[i];
  }
  if (total > size - pos) fail("DELTA_LENGTH_BYTE_ARRAY: values past the end of the page");
  charge(total + n * sizeof(uint64_t));
  size_t base = out.bytes.size();
  copy_bytes(out.bytes.grow(static_cast<size_t>(total)), data + pos, static_cast<size_t>(total));
  uint64_t* offsets = out.offsets.grow(n);
  uint64_t at = base;
  for (size_t i = 0; i < n; ++i) {
    at += deltas_[i];
    offsets[i] = at;
  }
}

void ChunkDecoder::decode_delta_byte_array(const uint8_t* data, size_t size, size_t n,
                                           ColumnData& out) {
  const PhysicalType type = column_.node->physical;
  if (type != PhysicalType::kByteArray && type != PhysicalType::kFixedLenByteArray)
    fail("DELTA_BYTE_ARRAY on a non-byte-array column");
  PodBuffer<uint64_t> prefixes;
  size_t pos = decode_lengths(data, size, n, prefixes);
  size_t suffix_pos = pos + decode_lengths(data + pos, size - pos, n, deltas_);
  uint64_t suffix_total = 0;
  for (size_t i = 0; i < n; ++i) {
    if (deltas_[i] > size) fail("DELTA_BYTE_ARRAY: invalid suffix length");
    suffix_total += deltas_[i];
  }
  if (suffix_total > size - suffix_pos) fail("DELTA_BYTE_ARRAY: suffixes past the end of the page");
  const uint8_t* suffix = data + suffix_pos;
  std::string previous;  // every page starts afresh
  std::string current;
  for (size_t i = 0; i < n; ++i) {
    if (prefixes[i] > previous.size())
      fail("DELTA_BYTE_ARRAY: prefix longer than the previous value");
    current.assign(previous, 0, static_cast<size_t>(prefixes[i]));
    current.append(reinterpret_cast<const char*>(suffix), static_cast<size_t>(deltas_[i]));
    suffix += deltas_[i];
    charge(current.size() + sizeof(uint64_t));
    if (type == PhysicalType::kByteArray) {
      copy_bytes(out.bytes.grow(current.size()), current.data(), current.size());
      out.offsets.push_back(out.bytes.size());
    } else {
      if (current.size() != static_cast<size_t>(width_))
        fail("DELTA_BYTE_ARRAY: value length differs from the fixed length");
      copy_bytes(out.fixed.grow(current.size()), current.data(), current.size());
    }
    previous.swap(current);
  }
}

void ChunkDecoder::decode_byte_stream_split(const uint8_t* data, size_t size, size_t n,
                                            ColumnData& out) {
  const PhysicalType type = column_.node->physical;
  if (type == PhysicalType::kBoolean || type == PhysicalType::kByteArray ||
      type == PhysicalType::kInt96)
    fail("BYTE_STREAM_SPLIT on an unsupported column type");
  const size_t w = static_cast<size_t>(width_);
  uint64_t bytes = static_cast<uint64_t>(n) * w;
  if (bytes > size) fail("BYTE_STREAM_SPLIT values past the end of the page");
  charge(bytes);
  uint8_t* dst = out.fixed.grow(static_cast<size_t>(bytes));
  for (size_t k = 0; k < w; ++k) {
    const uint8_t* stream = data + k * n;
    for (size_t i = 0; i < n; ++i) dst[i * w + k] = stream[i];
  }
}

}  // namespace hubcache::parquet::detail
