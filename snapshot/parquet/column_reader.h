// Column chunk decoding (internal).
#pragma once

#include <string>

#include "snapshot/parquet/internal.h"

namespace hubcache::parquet::detail {

// Decodes every page of one column chunk into a ColumnData. One decoder per chunk; scratch buffers
// are reused across its pages. All sizes are checked against ReadLimits before anything is
// allocated.
class ChunkDecoder {
 public:
  // `page_scratch` holds decompressed pages; sharing one across chunks avoids fresh page faults.
  ChunkDecoder(const ColumnDescriptor& column, const ColumnChunkInfo& info,
               const ReadLimits& limits, int64_t row_group_rows, PodBuffer<uint8_t>& page_scratch);
  void decode(const uint8_t* chunk, size_t size, ColumnData& out);

 private:
  void charge(uint64_t bytes);
  const uint8_t* decompress_page(const uint8_t* data, size_t compressed, size_t uncompressed);
  void begin_page(int64_t num_values, ColumnData& out);
  size_t count_values(const ColumnData& out, int64_t first_level, int64_t num_levels);
  void check_rows(const ColumnData& out);
  void reserve_output(size_t chunk_size, ColumnData& out);
  void read_dictionary_page(const PageHeader& header, const uint8_t* data);
  void read_data_page_v1(const PageHeader& header, const uint8_t* data, ColumnData& out);
  void read_data_page_v2(const PageHeader& header, const uint8_t* data, ColumnData& out);
  void decode_values(int32_t encoding, const uint8_t* data, size_t size, size_t n, ColumnData& out);
  void decode_plain(const uint8_t* data, size_t size, size_t n, ColumnData& out);
  void decode_dictionary_indices(const uint8_t* data, size_t size, size_t n, ColumnData& out);
  void decode_rle_booleans(const uint8_t* data, size_t size, size_t n, ColumnData& out);
  void decode_delta_binary_packed(const uint8_t* data, size_t size, size_t n, ColumnData& out);
  size_t decode_lengths(const uint8_t* data, size_t size, size_t n, PodBuffer<uint64_t>& lengths);
  void decode_delta_length_byte_array(const uint8_t* data, size_t size, size_t n, ColumnData& out);
  void decode_delta_byte_array(const uint8_t* data, size_t size, size_t n, ColumnData& out);
  void decode_byte_stream_split(const uint8_t* data, size_t size, size_t n, ColumnData& out);

  const ColumnDescriptor& column_;
  const ColumnChunkInfo& info_;
  const ReadLimits& limits_;
  const int64_t row_group_rows_;
  const int32_t width_;
  uint64_t used_ = 0;  // decoded bytes charged against limits_.max_column_chunk_bytes

  ColumnData dictionary_;
  bool has_dictionary_ = false;
  PodBuffer<uint8_t>& page_buffer_;
  PodBuffer<uint32_t> indices_;
  PodBuffer<uint64_t> deltas_;
};

}  // namespace hubcache::parquet::detail
