// Thrift compact protocol, reading side. Only what parquet.thrift needs, plus a generic skip so
// that fields added by newer writers (size statistics, geospatial stats, ...) are ignored.
#include "snapshot/parquet/internal.h"

namespace hubcache::parquet::detail {

void fail(const std::string& what) {
  throw FormatError(what);
}

uint64_t CompactReader::read_varint() {
  uint64_t result = 0;
  for (int shift = 0; shift < 70; shift += 7) {
    uint8_t b = read_byte();
    if (shift == 63 && (b & 0x7E)) fail("thrift: varint overflows 64 bits");
    result |= static_cast<uint64_t>(b & 0x7F) << shift;
    if (!(b & 0x80)) return result;
  }
  fail("thrift: varint too long");
}

int64_t CompactReader::read_int(CType type) {
  switch (type) {
    case CType::kByte:
      return static_cast<int8_t>(read_byte());
    case CType::kI16:
    case CType::kI32:
    case CType::kI64:
      return read_zigzag();
    default:
      fail("thrift: expected an integer field, found wire type " +
           std::to_string(static_cast<int>(type)));
  }
}

int32_t CompactReader::read_i32(CType type) {
  int64_t v = read_int(type);
  if (v < INT32_MIN || v > INT32_MAX) fail("thrift: i32 field out of range");
  return static_cast<int32_t>(v);
}

bool CompactReader::read_bool(CType type) {
  if (type == CType::kTrue) return true;
  if (type == CType::kFalse) return false;
  fail("thrift: expected a bool field");
}

std::string CompactReader::read_string(CType type) {
  if (type != CType::kBinary) fail("thrift: expected a string field");
  uint64_t n = read_varint();
  if (n > static_cast<uint64_t>(end_ - pos_)) fail("thrift: string length past the end of data");
  std::string s(reinterpret_cast<const char*>(pos_), static_cast<size_t>(n));
  pos_ += n;
  return s;
}

double CompactReader::read_double(CType type) {
  if (type != CType::kDouble) fail("thrift: expected a double field");
  if (end_ - pos_ < 8) fail("thrift: unexpected end of data");
  double d;
  std::memcpy(&d, pos_, 8);
  pos_ += 8;
  return d;
}

size_t CompactReader::read_list_header(CType* element_type) {
  uint8_t header = read_byte();
  uint64_t n = header >> 4;
  *element_type = static_cast<CType>(header & 0x0F);
  if (n == 15) n = read_varint();
  if (n > static_cast<uint64_t>(end_ - pos_)) fail("thrift: list size past the end of data");
  return static_cast<size_t>(n);
}

void CompactReader::skip(CType type) {
  switch (type) {
    case CType::kTrue:
    case CType::kFalse:
      return;  // value is in the type nibble (struct fields); list elements use kByte-like bytes
    case CType::kByte:
      read_byte();
      return;
    case CType::kI16:
    case CType::kI32:
    case CType::kI64:
      read_varint();
      return;
    case CType::kDouble:
      if (end_ - pos_ < 8) fail("thrift: unexpected end of data");
      pos_ += 8;
      return;
    case CType::kBinary: {
      uint64_t n = read_varint();
      if (n > static_cast<uint64_t>(end_ - pos_))
        fail("thrift: binary length past the end of data");
      pos_ += n;
      return;
    }
    case CType::kList:
    case CType::kSet: {
      if (++depth_ > kMaxDepth) fail("thrift: containers nested too deeply");
      CType element_type;
      size_t n = read_list_header(&element_type);
      for (size_t i = 0; i < n; ++i) {
        // Booleans inside containers take one byte each.
        if (element_type == CType::kTrue || element_type == CType::kFalse)
          read_byte();
        else
          skip(element_type);
      }
      --depth_;
      return;
    }
    case CType::kMap: {
      if (++depth_ > kMaxDepth) fail("thrift: containers nested too deeply");
      uint64_t n = read_varint();
      if (n > static_cast<uint64_t>(end_ - pos_)) fail("thrift: map size past the end of data");
      if (n) {
        uint8_t kv = read_byte();
        CType key_type = static_cast<CType>(kv >> 4);
        CType value_type = static_cast<CType>(kv & 0x0F);
        for (uint64_t i = 0; i < n; ++i) {
          for (CType t : {key_type, value_type}) {
            if (t == CType::kTrue || t == CType::kFalse)
              read_byte();
            else
              skip(t);
          }
        }
      }
      --depth_;
      return;
    }
    case CType::kStruct:
      read_struct([this](int16_t, CType t) { skip(t); });
      return;
    default:
      fail("thrift: invalid wire type " + std::to_string(static_cast<int>(type)));
  }
}

}  // namespace hubcache::parquet::detail
