// FileMetaData, SchemaElement, RowGroup, ColumnChunk and PageHeader from parquet.thrift, decoded by
// field id. Fields we do not need are skipped whatever their type.
#include <algorithm>

#include "snapshot/parquet/internal.h"

namespace hubcache::parquet {
namespace detail {
namespace {

// ConvertedType values.
enum Converted : int32_t {
  kUtf8 = 0,
  kMap = 1,
  kMapKeyValue = 2,
  kList = 3,
  kEnum = 4,
  kDecimal = 5,
  kDate = 6,
  kTimeMillis = 7,
  kTimeMicros = 8,
  kTimestampMillis = 9,
  kTimestampMicros = 10,
  kUint8 = 11,
  kUint16 = 12,
  kUint32 = 13,
  kUint64 = 14,
  kInt8 = 15,
  kInt16 = 16,
  kInt32 = 17,
  kInt64 = 18,
  kJson = 19,
  kBson = 20,
};

struct RawSchemaElement {
  std::optional<int32_t> type;
  int32_t type_length = 0;
  std::optional<int32_t> repetition;
  std::string name;
  std::optional<int32_t> num_children;
  int32_t converted_type = -1;
  int32_t scale = 0;
  int32_t precision = 0;
  std::optional<LogicalType> logical;  // set only for a union member we know
};

TimeUnit parse_time_unit(CompactReader& r) {
  TimeUnit unit = TimeUnit::kMicros;
  r.read_struct([&](int16_t id, CType t) {
    if (id == 1) unit = TimeUnit::kMillis;
    if (id == 2) unit = TimeUnit::kMicros;
    if (id == 3) unit = TimeUnit::kNanos;
    r.skip(t);
  });
  return unit;
}

// LogicalType is a union; an unknown member leaves the result empty (read as the physical type).
std::optional<LogicalType> parse_logical_type(CompactReader& r) {
  std::optional<LogicalType> result;
  r.read_struct([&](int16_t id, CType t) {
    if (t != CType::kStruct) {
      r.skip(t);
      return;
    }
    LogicalType lt;
    switch (id) {
      case 1:  // STRING
      case 4:  // ENUM
        lt.kind = LogicalKind::kString;
        r.skip(t);
        break;
      case 2:
        lt.kind = LogicalKind::kMap;
        r.skip(t);
        break;
      case 3:
        lt.kind = LogicalKind::kList;
        r.skip(t);
        break;
      case 5:
        lt.kind = LogicalKind::kDecimal;
        r.read_struct([&](int16_t fid, CType ft) {
          if (fid == 1)
            lt.scale = r.read_i32(ft);
          else if (fid == 2)
            lt.precision = r.read_i32(ft);
          else
            r.skip(ft);
        });
        break;
      case 6:
        lt.kind = LogicalKind::kDate;
        r.skip(t);
        break;
      case 7:  // TIME
      case 8:  // TIMESTAMP
        lt.kind = id == 7 ? LogicalKind::kTime : LogicalKind::kTimestamp;
        r.read_struct([&](int16_t fid, CType ft) {
          if (fid == 1)
            lt.adjusted_to_utc = r.read_bool(ft);
          else if (fid == 2 && ft == CType::kStruct)
            lt.unit = parse_time_unit(r);
          else
            r.skip(ft);
        });
        break;
      case 10:
        lt.kind = LogicalKind::kInteger;
        lt.bit_width = 64;
        r.read_struct([&](int16_t fid, CType ft) {
          if (fid == 1)
            lt.bit_width = static_cast<int8_t>(r.read_int(ft));
          else if (fid == 2)
            lt.is_signed = r.read_bool(ft);
          else
            r.skip(ft);
        });
        break;
      case 12:
        lt.kind = LogicalKind::kJson;
        r.skip(t);
        break;
      case 13:
        lt.kind = LogicalKind::kBson;
        r.skip(t);
        break;
      case 14:
        lt.kind = LogicalKind::kUuid;
        r.skip(t);
        break;
      case 15:
        lt.kind = LogicalKind::kFloat16;
        r.skip(t);
        break;
      default:  // UNKNOWN (null), VARIANT, GEOMETRY, ... and future members
        r.skip(t);
        return;
    }
    result = lt;
  });
  return result;
}

RawSchemaElement parse_schema_element(CompactReader& r) {
  RawSchemaElement e;
  r.read_struct([&](int16_t id, CType t) {
    switch (id) {
      case 1:
        e.type = r.read_i32(t);
        break;
      case 2:
        e.type_length = r.read_i32(t);
        break;
      case 3:
        e.repetition = r.read_i32(t);
        break;
      case 4:
        e.name = r.read_string(t);
        break;
      case 5:
        e.num_children = r.read_i32(t);
        break;
      case 6:
        e.converted_type = r.read_i32(t);
        break;
      case 7:
        e.scale = r.read_i32(t);
        break;
      case 8:
        e.precision = r.read_i32(t);
        break;
      case 10:
        if (t == CType::kStruct)
          e.logical = parse_logical_type(r);
        else
          r.skip(t);
        break;
      default:
        r.skip(t);
    }
  });
  return e;
}

LogicalType logical_from_converted(const RawSchemaElement& e) {
  LogicalType lt;
  auto integer = [&](int bits, bool is_signed) {
    lt.kind = LogicalKind::kInteger;
    lt.bit_width = static_cast<int8_t>(bits);
    lt.is_signed = is_signed;
  };
  switch (e.converted_type) {
    case kUtf8:
    case kEnum:
      lt.kind = LogicalKind::kString;
      break;
    case kJson:
      lt.kind = LogicalKind::kJson;
      break;
    case kBson:
      lt.kind = LogicalKind::kBson;
      break;
    case kMap:
    case kMapKeyValue:
      lt.kind = LogicalKind::kMap;
      break;
    case kList:
      lt.kind = LogicalKind::kList;
      break;
    case kDecimal:
      lt.kind = LogicalKind::kDecimal;
      lt.precision = e.precision;
      lt.scale = e.scale;
      break;
    case kDate:
      lt.kind = LogicalKind::kDate;
      break;
    case kTimeMillis:
    case kTimeMicros:
      lt.kind = LogicalKind::kTime;
      lt.unit = e.converted_type == kTimeMillis ? TimeUnit::kMillis : TimeUnit::kMicros;
      lt.adjusted_to_utc = true;
      break;
    case kTimestampMillis:
    case kTimestampMicros:
      lt.kind = LogicalKind::kTimestamp;
      lt.unit = e.converted_type == kTimestampMillis ? TimeUnit::kMillis : TimeUnit::kMicros;
      lt.adjusted_to_utc = true;
      break;
    case kUint8:
      integer(8, false);
      break;
    case kUint16:
      integer(16, false);
      break;
    case kUint32:
      integer(32, false);
      break;
    case kUint64:
      integer(64, false);
      break;
    case kInt8:
      integer(8, true);
      break;
    case kInt16:
      integer(16, true);
      break;
    case kInt32:
      integer(32, true);
      break;
    case kInt64:
      integer(64, true);
      break;
    default:
      break;
  }
  return lt;
}

class SchemaBuilder {
 public:
  SchemaBuilder(const std::vector<RawSchemaElement>& elements, const ReadLimits& limits)
      : elements_(elements), limits_(limits) {}

  void build(Schema& schema) {
    if (elements_.empty()) fail("schema is empty");
    const RawSchemaElement& root = elements_[0];
    schema.root.name = root.name;
    schema.root.is_group = true;
    next_ = 1;
    int32_t n = root.num_children.value_or(0);
    add_children(schema.root, n, 1);
    if (next_ != elements_.size())
      fail("schema has " + std::to_string(elements_.size() - next_) +
           " elements not reachable from the root");
  }

 private:
  void add_children(SchemaNode& parent, int32_t count, int depth) {
    if (depth > limits_.max_schema_depth) fail("schema nested too deeply");
    if (count < 0 || static_cast<size_t>(count) > elements_.size() - next_)
      fail("schema element '" + parent.name + "' claims " + std::to_string(count) +
           " children, more than remain");
    parent.children.reserve(static_cast<size_t>(count));
    for (int32_t i = 0; i < count; ++i) {
      // Re-checked per child: nested groups before this one may have used up the elements.
      if (next_ >= elements_.size())
        fail("schema element '" + parent.name + "' has fewer children than it claims");
      const RawSchemaElement& e = elements_[next_++];
      SchemaNode node;
      node.name = e.name;
      int32_t rep = e.repetition.value_or(0);
      if (rep < 0 || rep > 2) fail("schema element '" + e.name + "' has invalid repetition");
      node.repetition = static_cast<Repetition>(rep);
      node.def_level = static_cast<int16_t>(parent.def_level + (rep != 0 ? 1 : 0));
      node.rep_level = static_cast<int16_t>(parent.rep_level + (rep == 2 ? 1 : 0));
      node.converted_type = e.converted_type;
      node.logical = e.logical ? *e.logical : logical_from_converted(e);
      bool is_group = e.num_children.has_value() || !e.type.has_value();
      if (is_group) {
        node.is_group = true;
        parent.children.push_back(std::move(node));
        add_children(parent.children.back(), e.num_children.value_or(0), depth + 1);
        continue;
      }
      int32_t type = *e.type;
      if (type < 0 || type > 7) fail("schema element '" + e.name + "' has invalid physical type");
      node.physical = static_cast<PhysicalType>(type);
      node.type_length = e.type_length;
      if (node.physical == PhysicalType::kFixedLenByteArray &&
          (e.type_length <= 0 || e.type_length > (1 << 20)))
        fail("schema element '" + e.name + "' has invalid fixed length " +
             std::to_string(e.type_length));
      if (node.physical == PhysicalType::kInt96 && node.logical.kind == LogicalKind::kNone) {
        node.logical.kind = LogicalKind::kTimestamp;
        node.logical.unit = TimeUnit::kMicros;
      }
      node.leaf_index = leaf_count_++;
      parent.children.push_back(std::move(node));
    }
  }

  const std::vector<RawSchemaElement>& elements_;
  const ReadLimits& limits_;
  size_t next_ = 0;
  int32_t leaf_count_ = 0;
};

void collect_columns(const SchemaNode& node, int32_t top_level, std::vector<std::string>& path,
                     std::vector<ColumnDescriptor>& out) {
  path.push_back(node.name);
  if (!node.is_group) {
    ColumnDescriptor d;
    d.path = path;
    for (size_t i = 0; i < path.size(); ++i) d.dotted_path += (i ? "." : "") + path[i];
    d.node = &node;
    d.max_def = node.def_level;
    d.max_rep = node.rep_level;
    d.top_level_field = top_level;
    out.push_back(std::move(d));
  }
  for (const SchemaNode& child : node.children) collect_columns(child, top_level, path, out);
  path.pop_back();
}

ColumnChunkInfo parse_column_chunk(CompactReader& r) {
  ColumnChunkInfo info;
  bool has_meta = false;
  r.read_struct([&](int16_t id, CType t) {
    if (id == 1 && t == CType::kBinary) {
      r.skip(t);
      info.has_file_path = true;
    } else if (id == 3 && t == CType::kStruct) {
      has_meta = true;
      r.read_struct([&](int16_t fid, CType ft) {
        switch (fid) {
          case 1: {
            int32_t type = r.read_i32(ft);
            if (type < 0 || type > 7) fail("column chunk has invalid physical type");
            info.physical = static_cast<PhysicalType>(type);
            break;
          }
          case 3:
            r.read_list(ft, [&](CType et) { info.path_in_schema.push_back(r.read_string(et)); });
            break;
          case 4: {
            int32_t codec = r.read_i32(ft);
            if (codec < 0 || codec > 127) fail("column chunk has invalid codec");
            info.codec = static_cast<Codec>(codec);
            break;
          }
          case 5:
            info.num_values = r.read_int(ft);
            break;
          case 6:
            info.total_uncompressed_size = r.read_int(ft);
            break;
          case 7:
            info.total_compressed_size = r.read_int(ft);
            break;
          case 9:
            info.data_page_offset = r.read_int(ft);
            break;
          case 11:
            info.dictionary_page_offset = r.read_int(ft);
            break;
          default:
            r.skip(ft);
        }
      });
    } else {
      r.skip(t);
    }
  });
  if (!has_meta) fail("column chunk without metadata");
  if (info.num_values < 0 || info.total_compressed_size < 0 || info.data_page_offset < 0)
    fail("column chunk has a negative size, count or offset");
  return info;
}

RowGroupInfo parse_row_group(CompactReader& r) {
  RowGroupInfo rg;
  r.read_struct([&](int16_t id, CType t) {
    switch (id) {
      case 1:
        r.read_list(t, [&](CType et) {
          if (et != CType::kStruct) fail("row group column list holds non-structs");
          rg.columns.push_back(parse_column_chunk(r));
        });
        break;
      case 2:
        rg.total_byte_size = r.read_int(t);
        break;
      case 3:
        rg.num_rows = r.read_int(t);
        break;
      default:
        r.skip(t);
    }
  });
  if (rg.num_rows < 0) fail("row group has a negative row count");
  for (const ColumnChunkInfo& c : rg.columns) rg.compressed_size += c.total_compressed_size;
  return rg;
}

}  // namespace

FileMeta parse_file_metadata(const uint8_t* data, size_t size, const ReadLimits& limits) {
  FileMeta meta;
  std::vector<RawSchemaElement> elements;
  CompactReader r(data, size);
  r.read_struct([&](int16_t id, CType t) {
    switch (id) {
      case 1:
        meta.version = r.read_i32(t);
        break;
      case 2:
        r.read_list(t, [&](CType et) {
          if (et != CType::kStruct) fail("schema list holds non-structs");
          elements.push_back(parse_schema_element(r));
        });
        break;
      case 3:
        meta.num_rows = r.read_int(t);
        break;
      case 4:
        r.read_list(t, [&](CType et) {
          if (et != CType::kStruct) fail("row group list holds non-structs");
          meta.row_groups.push_back(parse_row_group(r));
        });
        break;
      case 5:
        r.read_list(t, [&](CType et) {
          if (et != CType::kStruct) fail("key/value list holds non-structs");
          KeyValue kv;
          r.read_struct([&](int16_t fid, CType ft) {
            if (fid == 1)
              kv.key = r.read_string(ft);
            else if (fid == 2)
              kv.value = r.read_string(ft);
            else
              r.skip(ft);
          });
          meta.key_value_metadata.push_back(std::move(kv));
        });
        break;
      case 6:
        meta.created_by = r.read_string(t);
        break;
      case 8:
      case 9:
        fail("encrypted files are not supported");
      default:
        r.skip(t);
    }
  });
  if (meta.num_rows < 0) fail("file has a negative row count");

  SchemaBuilder(elements, limits).build(meta.schema);
  std::vector<std::string> path;
  for (size_t i = 0; i < meta.schema.root.children.size(); ++i)
    collect_columns(meta.schema.root.children[i], static_cast<int32_t>(i), path,
                    meta.schema.columns);

  for (size_t g = 0; g < meta.row_groups.size(); ++g) {
    RowGroupInfo& rg = meta.row_groups[g];
    if (rg.columns.size() != meta.schema.columns.size())
      fail("row group " + std::to_string(g) + " has " + std::to_string(rg.columns.size()) +
           " column chunks but the schema has " + std::to_string(meta.schema.columns.size()) +
           " leaves");
    for (size_t c = 0; c < rg.columns.size(); ++c) {
      if (rg.columns[c].physical != meta.schema.columns[c].node->physical)
        fail("row group " + std::to_string(g) + ", column '" + meta.schema.columns[c].dotted_path +
             "': chunk type " + std::string(to_string(rg.columns[c].physical)) +
             " differs from the schema type " +
             std::string(to_string(meta.schema.columns[c].node->physical)));
    }
  }
  return meta;
}

PageHeader parse_page_header(const uint8_t* data, size_t size) {
  PageHeader h;
  CompactReader r(data, size);
  bool has_data_header = false;
  r.read_struct([&](int16_t id, CType t) {
    switch (id) {
      case 1:
        h.type = r.read_i32(t);
        break;
      case 2:
        h.uncompressed_size = r.read_i32(t);
        break;
      case 3:
        h.compressed_size = r.read_i32(t);
        break;
      case 5:  // DataPageHeader
        if (t != CType::kStruct) fail("page header: bad data page header");
        has_data_header = true;
        r.read_struct([&](int16_t fid, CType ft) {
          if (fid == 1)
            h.num_values = r.read_i32(ft);
          else if (fid == 2)
            h.encoding = r.read_i32(ft);
          else if (fid == 3)
            h.def_encoding = r.read_i32(ft);
          else if (fid == 4)
            h.rep_encoding = r.read_i32(ft);
          else
            r.skip(ft);
        });
        break;
      case 7:  // DictionaryPageHeader
        if (t != CType::kStruct) fail("page header: bad dictionary page header");
        has_data_header = true;
        r.read_struct([&](int16_t fid, CType ft) {
          if (fid == 1)
            h.num_values = r.read_i32(ft);
          else if (fid == 2)
            h.encoding = r.read_i32(ft);
          else
            r.skip(ft);
        });
        break;
      case 8:  // DataPageHeaderV2
        if (t != CType::kStruct) fail("page header: bad v2 data page header");
        has_data_header = true;
        r.read_struct([&](int16_t fid, CType ft) {
          switch (fid) {
            case 1:
              h.num_values = r.read_i32(ft);
              break;
            case 2:
              h.num_nulls = r.read_i32(ft);
              break;
            case 3:
              h.num_rows = r.read_i32(ft);
              break;
            case 4:
              h.encoding = r.read_i32(ft);
              break;
            case 5:
              h.def_levels_bytes = r.read_i32(ft);
              break;
            case 6:
              h.rep_levels_bytes = r.read_i32(ft);
              break;
            case 7:
              h.is_compressed = r.read_bool(ft);
              break;
            default:
              r.skip(ft);
          }
        });
        break;
      default:
        r.skip(t);
    }
  });
  h.header_size = r.consumed();
  if (h.type < 0 || h.type > 3) fail("page header: unknown page type " + std::to_string(h.type));
  if (h.compressed_size < 0 || h.uncompressed_size < 0)
    fail("page header: missing or negative page size");
  if (h.type != static_cast<int32_t>(PageType::kIndexPage)) {
    if (!has_data_header) fail("page header: no data/dictionary header");
    if (h.num_values < 0) fail("page header: negative value count " + std::to_string(h.num_values));
    if (h.def_levels_bytes < 0 || h.rep_levels_bytes < 0 || h.num_nulls < 0)
      fail("page header: negative level length or null count");
  }
  return h;
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------

int Schema::find_field(std::string_view name) const {
  for (size_t i = 0; i < root.children.size(); ++i)
    if (root.children[i].name == name) return static_cast<int>(i);
  return -1;
}

std::string_view to_string(PhysicalType type) {
  switch (type) {
    case PhysicalType::kBoolean:
      return "BOOLEAN";
    case PhysicalType::kInt32:
      return "INT32";
    case PhysicalType::kInt64:
      return "INT64";
    case PhysicalType::kInt96:
      return "INT96";
    case PhysicalType::kFloat:
      return "FLOAT";
    case PhysicalType::kDouble:
      return "DOUBLE";
    case PhysicalType::kByteArray:
      return "BYTE_ARRAY";
    case PhysicalType::kFixedLenByteArray:
      return "FIXED_LEN_BYTE_ARRAY";
  }
  return "?";
}

std::string_view to_string(Codec codec) {
  switch (codec) {
    case Codec::kUncompressed:
      return "UNCOMPRESSED";
    case Codec::kSnappy:
      return "SNAPPY";
    case Codec::kGzip:
      return "GZIP";
    case Codec::kLzo:
      return "LZO";
    case Codec::kBrotli:
      return "BROTLI";
    case Codec::kLz4Hadoop:
      return "LZ4";
    case Codec::kZstd:
      return "ZSTD";
    case Codec::kLz4Raw:
      return "LZ4_RAW";
  }
  return "UNKNOWN";
}

namespace {

std::string_view unit_name(TimeUnit unit) {
  switch (unit) {
    case TimeUnit::kMillis:
      return "MILLIS";
    case TimeUnit::kMicros:
      return "MICROS";
    case TimeUnit::kNanos:
      return "NANOS";
  }
  return "?";
}

nlohmann::json logical_to_json(const LogicalType& lt) {
  switch (lt.kind) {
    case LogicalKind::kNone:
      return nullptr;
    case LogicalKind::kString:
      return "STRING";
    case LogicalKind::kJson:
      return "JSON";
    case LogicalKind::kBson:
      return "BSON";
    case LogicalKind::kUuid:
      return "UUID";
    case LogicalKind::kDate:
      return "DATE";
    case LogicalKind::kFloat16:
      return "FLOAT16";
    case LogicalKind::kList:
      return "LIST";
    case LogicalKind::kMap:
      return "MAP";
    case LogicalKind::kTime:
    case LogicalKind::kTimestamp:
      return {{"type", lt.kind == LogicalKind::kTime ? "TIME" : "TIMESTAMP"},
              {"unit", unit_name(lt.unit)},
              {"adjusted_to_utc", lt.adjusted_to_utc}};
    case LogicalKind::kInteger:
      return {{"type", "INTEGER"}, {"bit_width", lt.bit_width}, {"signed", lt.is_signed}};
    case LogicalKind::kDecimal:
      return {{"type", "DECIMAL"}, {"precision", lt.precision}, {"scale", lt.scale}};
  }
  return nullptr;
}

}  // namespace

nlohmann::json schema_to_json(const SchemaNode& node) {
  static constexpr const char* kRepetition[] = {"REQUIRED", "OPTIONAL", "REPEATED"};
  nlohmann::json j;
  j["name"] = node.name;
  j["repetition"] = kRepetition[static_cast<int>(node.repetition)];
  if (node.is_group) {
    j["children"] = nlohmann::json::array();
    for (const SchemaNode& c : node.children) j["children"].push_back(schema_to_json(c));
  } else {
    j["type"] = to_string(node.physical);
    if (node.physical == PhysicalType::kFixedLenByteArray) j["type_length"] = node.type_length;
    j["max_def"] = node.def_level;
    j["max_rep"] = node.rep_level;
  }
  if (node.logical.kind != LogicalKind::kNone) j["logical"] = logical_to_json(node.logical);
  if (node.converted_type >= 0) j["converted_type"] = node.converted_type;
  return j;
}

}  // namespace hubcache::parquet
