// Record assembly: (repetition level, definition level, value) triplets of the leaves of a
// top-level field -> one JSON value per row, following the schema tree.
//
// The walk is driven by the first leaf under each node: all leaves under a node share its levels,
// so that leaf tells whether the node is null, an empty list, or how many occurrences it has. A
// null or empty node consumes exactly one level entry from every leaf below it.
#include <cinttypes>
#include <cmath>
#include <cstdio>

#include "snapshot/parquet/internal.h"

namespace hubcache::parquet {

using detail::fail;
using detail::FormatError;
using nlohmann::json;

// ---------------------------------------------------------------------------------------------
// Dates and times

namespace {

// Howard Hinnant's days -> civil algorithm (proleptic Gregorian), valid for the whole int64 day
// range we can produce here.
void civil_from_days(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

void append_date(std::string& out, int64_t days) {
  int64_t y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  char buf[48];
  if (y >= 0 && y <= 9999)
    std::snprintf(buf, sizeof buf, "%04" PRId64 "-%02u-%02u", y, m, d);
  else
    std::snprintf(buf, sizeof buf, "%+05" PRId64 "-%02u-%02u", y, m, d);
  out += buf;
}

// days + nanos of day (0 <= nanos < 86400e9) -> ISO 8601 with `digits` fraction digits.
std::string iso_from_parts(int64_t days, int64_t nanos_of_day, int digits) {
  std::string out;
  out.reserve(32);
  append_date(out, days);
  int64_t seconds = nanos_of_day / 1000000000;
  int64_t fraction = nanos_of_day % 1000000000;
  char buf[48];
  std::snprintf(buf, sizeof buf, "T%02d:%02d:%02d", static_cast<int>(seconds / 3600),
                static_cast<int>(seconds / 60 % 60), static_cast<int>(seconds % 60));
  out += buf;
  if (digits > 0) {
    std::snprintf(buf, sizeof buf, "%09" PRId64, fraction);
    out += '.';
    out.append(buf, static_cast<size_t>(digits));
  }
  out += 'Z';
  return out;
}

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

int64_t units_per_second(TimeUnit unit) {
  switch (unit) {
    case TimeUnit::kMillis:
      return 1000;
    case TimeUnit::kMicros:
      return 1000000;
    case TimeUnit::kNanos:
      return 1000000000;
  }
  return 1;
}

int unit_digits(TimeUnit unit) {
  switch (unit) {
    case TimeUnit::kMillis:
      return 3;
    case TimeUnit::kMicros:
      return 6;
    case TimeUnit::kNanos:
      return 9;
  }
  return 0;
}

}  // namespace

std::string format_date(int32_t days_since_epoch) {
  std::string out;
  append_date(out, days_since_epoch);
  return out;
}

std::string format_timestamp(int64_t value, TimeUnit unit, TimestampStyle style) {
  if (style == TimestampStyle::kEpochInteger) return std::to_string(value);
  const int64_t per_second = units_per_second(unit);
  const int64_t per_day = per_second * 86400;
  int64_t days = floor_div(value, per_day);
  int64_t rem = value % per_day;  // no days * per_day: it may overflow near INT64_MIN
  if (rem < 0) rem += per_day;
  int64_t nanos = rem * (1000000000 / per_second);
  return iso_from_parts(days, nanos,
                        style == TimestampStyle::kIso8601Millis ? 3 : unit_digits(unit));
}

Int96Time decode_int96(const uint8_t* bytes12) {
  int64_t nanos;
  int32_t julian_day;
  std::memcpy(&nanos, bytes12, 8);
  std::memcpy(&julian_day, bytes12 + 8, 4);
  return {static_cast<int64_t>(julian_day) - 2440588, nanos};  // 2440588: Julian day of 1970-01-01
}

int64_t int96_to_micros(const uint8_t* bytes12) {
  Int96Time t = decode_int96(bytes12);
  // Wrapping arithmetic, as Arrow and Spark do: writers that overflowed int64 nanoseconds produce
  // values that only round-trip this way (int96_from_spark.parquet).
  uint64_t micros = static_cast<uint64_t>(t.days_since_epoch) * 86400000000ULL +
                    static_cast<uint64_t>(t.nanos_of_day / 1000);
  return static_cast<int64_t>(micros);
}

// ---------------------------------------------------------------------------------------------
// Leaf values

namespace {

const char kHexDigits[] = "0123456789abcdef";

std::string render_binary(std::string_view bytes, BinaryStyle style) {
  std::string out;
  if (style == BinaryStyle::kHex) {
    out.reserve(bytes.size() * 2);
    for (unsigned char c : bytes) {
      out += kHexDigits[c >> 4];
      out += kHexDigits[c & 15];
    }
    return out;
  }
  out.reserve(bytes.size());
  for (unsigned char c : bytes) {
    if (c >= 0x20 && c < 0x7F && c != '\\') {
      out += static_cast<char>(c);
    } else {
      static const char kUpper[] = "0123456789ABCDEF";
      out += "\\x";
      out += kUpper[c >> 4];
      out += kUpper[c & 15];
    }
  }
  return out;
}

// Unscaled big-endian two's complement integer -> decimal text with `scale` fraction digits.
std::string render_decimal_bytes(const uint8_t* data, size_t size, int32_t scale) {
  std::vector<uint8_t> magnitude(data, data + size);
  bool negative = size > 0 && (data[0] & 0x80);
  if (negative) {  // two's complement negate
    for (uint8_t& b : magnitude) b = static_cast<uint8_t>(~b);
    for (size_t i = magnitude.size(); i-- > 0;)
      if (++magnitude[i] != 0) break;
  }
  std::string digits;
  bool nonzero = true;
  while (nonzero) {
    nonzero = false;
    unsigned remainder = 0;
    for (uint8_t& b : magnitude) {
      unsigned cur = remainder * 256 + b;
      b = static_cast<uint8_t>(cur / 10);
      remainder = cur % 10;
      nonzero |= b != 0;
    }
    digits += static_cast<char>('0' + remainder);
  }
  if (scale > 0) {
    while (digits.size() <= static_cast<size_t>(scale)) digits += '0';
    digits.insert(static_cast<size_t>(scale), 1, '.');
  }
  if (negative) digits += '-';
  return std::string(digits.rbegin(), digits.rend());
}

std::string render_decimal_int(int64_t v, int32_t scale) {
  uint8_t be[8];
  for (int i = 0; i < 8; ++i)
    be[i] = static_cast<uint8_t>(static_cast<uint64_t>(v) >> (56 - 8 * i));
  return render_decimal_bytes(be, 8, scale);
}

double half_to_double(uint16_t h) {
  int exponent = (h >> 10) & 0x1F;
  int mantissa = h & 0x3FF;
  double sign = (h & 0x8000) ? -1.0 : 1.0;
  if (exponent == 0) return sign * std::ldexp(mantissa, -24);
  if (exponent == 31) return mantissa ? NAN : sign * INFINITY;
  return sign * std::ldexp(mantissa + 1024, exponent - 25);
}

json render_timestamp(int64_t value, TimeUnit unit, TimestampStyle style) {
  if (style == TimestampStyle::kEpochInteger) return value;
  return format_timestamp(value, unit, style);
}

json render_value(const ColumnData& col, int64_t i, const JsonOptions& options) {
  const SchemaNode& node = *col.column->node;
  const LogicalType& lt = node.logical;
  switch (node.physical) {
    case PhysicalType::kBoolean:
      return col.bool_at(i);
    case PhysicalType::kInt32: {
      int32_t v = col.value_at<int32_t>(i);
      if (lt.kind == LogicalKind::kInteger && !lt.is_signed) return static_cast<uint32_t>(v);
      if (lt.kind == LogicalKind::kDate) return format_date(v);
      if (lt.kind == LogicalKind::kDecimal) return render_decimal_int(v, lt.scale);
      return v;
    }
    case PhysicalType::kInt64: {
      int64_t v = col.value_at<int64_t>(i);
      if (lt.kind == LogicalKind::kTimestamp)
        return render_timestamp(v, lt.unit, options.timestamps);
      if (lt.kind == LogicalKind::kInteger && !lt.is_signed) return static_cast<uint64_t>(v);
      if (lt.kind == LogicalKind::kDecimal) return render_decimal_int(v, lt.scale);
      return v;
    }
    case PhysicalType::kInt96:
      return render_timestamp(int96_to_micros(col.fixed_at(i)), TimeUnit::kMicros,
                              options.timestamps);
    case PhysicalType::kFloat: {
      double v = col.value_at<float>(i);
      return std::isfinite(v) ? json(v) : json(nullptr);
    }
    case PhysicalType::kDouble: {
      double v = col.value_at<double>(i);
      return std::isfinite(v) ? json(v) : json(nullptr);
    }
    case PhysicalType::kByteArray: {
      std::string_view s = col.bytes_at(i);
      switch (lt.kind) {
        case LogicalKind::kString:
        case LogicalKind::kJson:
          return std::string(s);
        case LogicalKind::kDecimal:
          return render_decimal_bytes(reinterpret_cast<const uint8_t*>(s.data()), s.size(),
                                      lt.scale);
        default:
          return render_binary(s, options.binary);
      }
    }
    case PhysicalType::kFixedLenByteArray: {
      const uint8_t* p = col.fixed_at(i);
      size_t w = static_cast<size_t>(col.value_width);
      if (lt.kind == LogicalKind::kDecimal) return render_decimal_bytes(p, w, lt.scale);
      if (lt.kind == LogicalKind::kFloat16 && w == 2) {
        double v = half_to_double(static_cast<uint16_t>(p[0] | (p[1] << 8)));
        return std::isfinite(v) ? json(v) : json(nullptr);
      }
      if (lt.kind == LogicalKind::kUuid && w == 16) {
        std::string out;
        for (size_t k = 0; k < 16; ++k) {
          if (k == 4 || k == 6 || k == 8 || k == 10) out += '-';
          out += kHexDigits[p[k] >> 4];
          out += kHexDigits[p[k] & 15];
        }
        return out;
      }
      if (lt.kind == LogicalKind::kString || lt.kind == LogicalKind::kJson)
        return std::string(reinterpret_cast<const char*>(p), w);
      return render_binary(std::string_view(reinterpret_cast<const char*>(p), w), options.binary);
    }
  }
  return nullptr;
}

// ---------------------------------------------------------------------------------------------
// Assembly

struct LeafCursor {
  const ColumnData* data = nullptr;
  int64_t level = 0;
  int64_t value = 0;
};

class Assembler {
 public:
  Assembler(const RowGroupData& data, const JsonOptions& options) : data_(data), options_(options) {
    cursors_.resize(data.schema->columns.size());
    for (const ColumnData& c : data.columns)
      cursors_[static_cast<size_t>(c.column->node->leaf_index)].data = &c;
  }

  // Builds the next row into `row`; false once every row was produced (and the levels were all
  // used).
  bool next(json& row) {
    // Decoded columns vouch for the row count; without any, a hostile count could make us spin.
    if (data_.columns.empty() && data_.num_rows > 0)
      fail("no leaf column selected, so the row count " + std::to_string(data_.num_rows) +
           " is unverified");
    if (next_row_ >= data_.num_rows) {
      if (!finished_) {
        finished_ = true;
        for (const LeafCursor& c : cursors_)
          if (c.data && c.level != c.data->num_levels)
            fail("column '" + c.data->column->dotted_path +
                 "' has level entries beyond the last row");
      }
      return false;
    }
    ++next_row_;
    const SchemaNode& root = data_.schema->root;
    row = json::object();
    json::object_t& object = row.get_ref<json::object_t&>();
    for (int f : data_.fields) {
      const SchemaNode& field = root.children[static_cast<size_t>(f)];
      const SchemaNode* leaf = first_leaf(field);
      if (leaf && rep(*leaf) != 0)
        fail("column '" + field.name + "': row does not start at repetition level 0");
      object.insert_or_assign(field.name, leaf ? build_field(field) : json::object());
    }
    return true;
  }

 private:
  static const SchemaNode* first_leaf(const SchemaNode& node) {
    const SchemaNode* n = &node;
    while (n->is_group) {
      if (n->children.empty()) return nullptr;
      n = &n->children.front();
    }
    return n;
  }

  LeafCursor& cursor(const SchemaNode& leaf) {
    LeafCursor& c = cursors_[static_cast<size_t>(leaf.leaf_index)];
    if (!c.data) fail("internal: column '" + leaf.name + "' was not decoded");
    return c;
  }
  // Definition / repetition level at the cursor of `leaf`; running out is an error.
  int16_t def(const SchemaNode& leaf) {
    LeafCursor& c = cursor(leaf);
    if (c.level >= c.data->num_levels)
      fail("column '" + c.data->column->dotted_path + "' ran out of levels");
    return c.data->def_levels.empty() ? c.data->column->max_def
                                      : c.data->def_levels[static_cast<size_t>(c.level)];
  }
  int16_t rep(const SchemaNode& leaf) {
    LeafCursor& c = cursor(leaf);
    if (c.level >= c.data->num_levels)
      fail("column '" + c.data->column->dotted_path + "' ran out of levels");
    return c.data->rep_levels.empty() ? 0 : c.data->rep_levels[static_cast<size_t>(c.level)];
  }
  bool at_end(const SchemaNode& leaf) {
    LeafCursor& c = cursor(leaf);
    return c.level >= c.data->num_levels;
  }

  // A null or empty node: every leaf below it holds exactly one entry for it.
  void skip_entry(const SchemaNode& node) {
    if (!node.is_group) {
      LeafCursor& c = cursor(node);
      if (c.level >= c.data->num_levels)
        fail("column '" + c.data->column->dotted_path + "' ran out of levels");
      if (def(node) == c.data->column->max_def)
        ++c.value;  // keeps values in step on malformed input
      ++c.level;
      return;
    }
    for (const SchemaNode& child : node.children) skip_entry(child);
  }

  // The value of `node` as a member of its parent, which is known to be defined.
  json build_field(const SchemaNode& node) {
    const SchemaNode* leaf = first_leaf(node);
    if (!leaf) return json::object();
    if (node.repetition == Repetition::kRepeated) {
      json items = json::array();
      build_occurrences(node, *leaf, [&] { items.push_back(build_value(node)); });
      return items;
    }
    if (node.repetition == Repetition::kOptional && def(*leaf) < node.def_level) {
      skip_entry(node);
      return nullptr;
    }
    return build_value(node);
  }

  // Calls emit() once per occurrence of the repeated node `node` (none when its def level says
  // empty).
  template <class Emit>
  void build_occurrences(const SchemaNode& node, const SchemaNode& leaf, Emit&& emit) {
    if (def(leaf) < node.def_level) {
      skip_entry(node);
      return;
    }
    for (;;) {
      emit();
      if (at_end(leaf) || rep(leaf) != node.rep_level) break;
    }
  }

  // One defined occurrence of `node`.
  json build_value(const SchemaNode& node) {
    if (!node.is_group) {
      LeafCursor& c = cursor(node);
      int16_t d = def(node);
      ++c.level;
      if (d < c.data->column->max_def) return nullptr;  // unreachable for consistent levels
      if (c.value >= c.data->num_values)
        fail("column '" + c.data->column->dotted_path + "' ran out of values");
      return render_value(*c.data, c.value++, options_);
    }
    if (const SchemaNode* repeated = list_repeated_child(node)) return build_list(node, *repeated);
    if (const SchemaNode* key_value = map_key_value_child(node)) return build_map(*key_value);
    json object = json::object();
    json::object_t& members = object.get_ref<json::object_t&>();
    for (const SchemaNode& child : node.children)
      members.insert_or_assign(child.name, build_field(child));
    return object;
  }

  // LIST-annotated group with a single repeated child, or nullptr.
  static const SchemaNode* list_repeated_child(const SchemaNode& node) {
    if (node.logical.kind != LogicalKind::kList || node.children.size() != 1) return nullptr;
    const SchemaNode& child = node.children[0];
    return child.repetition == Repetition::kRepeated ? &child : nullptr;
  }

  // MAP-annotated group whose single repeated child holds a key (and usually a value), or nullptr.
  static const SchemaNode* map_key_value_child(const SchemaNode& node) {
    if (node.logical.kind != LogicalKind::kMap || node.children.size() != 1) return nullptr;
    const SchemaNode& kv = node.children[0];
    if (kv.repetition != Repetition::kRepeated || !kv.is_group || kv.children.empty() ||
        kv.children.size() > 2)
      return nullptr;
    return &kv;
  }

  // The backward-compatibility rules of the Parquet LIST spec decide whether the repeated node is
  // the element itself (2-level lists) or wraps it (the standard 3-level list).
  static bool repeated_is_element(const SchemaNode& list, const SchemaNode& repeated) {
    if (!repeated.is_group) return true;
    if (repeated.children.size() != 1) return true;
    if (repeated.name == "array" || repeated.name == list.name + "_tuple") return true;
    return false;
  }

  json build_list(const SchemaNode& list, const SchemaNode& repeated) {
    const SchemaNode* leaf = first_leaf(repeated);
    json items = json::array();
    if (!leaf) return items;
    if (repeated_is_element(list, repeated)) {
      build_occurrences(repeated, *leaf, [&] { items.push_back(build_value(repeated)); });
    } else {
      const SchemaNode& element = repeated.children[0];
      build_occurrences(repeated, *leaf, [&] { items.push_back(build_field(element)); });
    }
    return items;
  }

  static std::string key_text(const json& key) {
    if (key.is_string()) return key.get<std::string>();
    return key.dump();
  }

  json build_map(const SchemaNode& key_value) {
    const SchemaNode* leaf = first_leaf(key_value);
    json object = json::object();
    if (!leaf) return object;
    const SchemaNode& key = key_value.children[0];
    const SchemaNode* value = key_value.children.size() > 1 ? &key_value.children[1] : nullptr;
    build_occurrences(key_value, *leaf, [&] {
      std::string k = key_text(build_field(key));
      object[k] = value ? build_field(*value) : json(nullptr);
    });
    return object;
  }

  const RowGroupData& data_;
  const JsonOptions options_;
  std::vector<LeafCursor> cursors_;
  int64_t next_row_ = 0;
  bool finished_ = false;
};

}  // namespace

struct RowAssembler::Impl {
  Impl(const RowGroupData& data, const JsonOptions& options) : assembler(data, options) {}
  Assembler assembler;
  bool failed = false;
};

RowAssembler::RowAssembler(const RowGroupData& data, const JsonOptions& options)
    : impl_(data.schema ? std::make_unique<Impl>(data, options) : nullptr) {}
RowAssembler::RowAssembler(RowAssembler&&) noexcept = default;
RowAssembler& RowAssembler::operator=(RowAssembler&&) noexcept = default;
RowAssembler::~RowAssembler() = default;

Result<bool> RowAssembler::next(json& row) {
  if (!impl_) return Error{"row group data without a schema"};
  if (impl_->failed) return Error{"row assembly already failed"};
  try {
    return impl_->assembler.next(row);
  } catch (const FormatError& e) {
    impl_->failed = true;
    return Error{e.what()};
  } catch (const std::bad_alloc&) {
    impl_->failed = true;
    return Error{"out of memory while assembling rows"};
  }
}

Result<std::vector<json>> assemble_json_rows(const RowGroupData& data, const JsonOptions& options) {
  RowAssembler assembler(data, options);
  std::vector<json> rows;
  json row;
  for (;;) {
    Result<bool> more = assembler.next(row);
    if (!more) return Error{more.error()};
    if (!more.value()) return rows;
    rows.push_back(std::move(row));
  }
}

}  // namespace hubcache::parquet
