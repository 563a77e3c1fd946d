// libFuzzer entry point: any byte string goes through the whole reader (footer, every row group of
// every column, JSON assembly and rendering). The reader must return an error or a reading; any
// crash, sanitizer report, timeout or memory blow-up is a bug.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "snapshot/parquet/parquet.h"

namespace pq = hubcache::parquet;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  pq::ReadLimits limits;
  limits.max_page_bytes = 8 << 20;
  limits.max_column_chunk_bytes = 32 << 20;
  pq::Result<pq::ParquetFile> file =
      pq::ParquetFile::open_buffer("fuzz", std::vector<uint8_t>(data, data + size), limits);
  if (!file) return 0;
  (void)pq::file_metadata_to_json(file.value())
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  pq::Result<std::vector<int>> fields = file->select_fields({});
  if (!fields) return 0;
  for (size_t g = 0; g < file->row_groups().size() && g < 64; ++g) {
    pq::Result<pq::RowGroupData> rows = file->read_row_group(static_cast<int>(g), fields.value());
    if (!rows) continue;
    pq::Result<std::vector<nlohmann::json>> json = pq::assemble_json_rows(rows.value());
    if (!json) continue;
    for (const nlohmann::json& row : json.value())
      (void)row.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  return 0;
}
