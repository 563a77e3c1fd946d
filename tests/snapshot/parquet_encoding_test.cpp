// Unit tests of the reader's internals: Thrift compact protocol, RLE/bit-packed hybrid, BIT_PACKED
// levels and DELTA_BINARY_PACKED, on hand-built inputs.
#include <gtest/gtest.h>

#include "snapshot/parquet/internal.h"

namespace hubcache::parquet::detail {
namespace {

// LSB-first bit writer, as Parquet packs bits.
struct BitWriter {
  std::vector<uint8_t> bytes;
  uint64_t bit = 0;
  void put(uint64_t value, int width) {
    for (int i = 0; i < width; ++i, ++bit) {
      if (bit / 8 >= bytes.size()) bytes.push_back(0);
      if ((value >> i) & 1) bytes[bit / 8] |= static_cast<uint8_t>(1u << (bit % 8));
    }
  }
};

void put_varint(std::vector<uint8_t>& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<uint8_t>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<uint8_t>(v));
}
uint64_t zigzag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}

TEST(ThriftCompact, SkipsUnknownFieldsOfEveryType) {
  std::vector<uint8_t> b;
  b.push_back(0x15);  // field 1, i32
  put_varint(b, zigzag(-7));
  b.push_back(0x36);  // field 4 (delta 3), i64
  put_varint(b, zigzag(1234567890123));
  b.push_back(0x17);  // field 5, double
  for (int i = 0; i < 8; ++i) b.push_back(0);
  b.push_back(0x19);  // field 6, list
  b.push_back(0x3C);  // 3 structs
  for (int i = 0; i < 3; ++i) {
    b.push_back(0x18);  // field 1 binary
    b.push_back(2);
    b.push_back('h');
    b.push_back('i');
    b.push_back(0);  // stop
  }
  b.push_back(0x1B);  // field 7, map
  put_varint(b, 2);
  b.push_back(0x85);  // binary -> i32
  for (int i = 0; i < 2; ++i) {
    b.push_back(1);
    b.push_back('k');
    put_varint(b, zigzag(i));
  }
  b.push_back(0x11);  // field 8, bool true
  b.push_back(0x1A);  // field 9, set of bools
  b.push_back(0x21);
  b.push_back(1);
  b.push_back(0);
  b.push_back(0x0C);  // field id in long form: type struct, zigzag id follows
  put_varint(b, zigzag(300));
  b.push_back(0x1C);  // nested struct inside: field 1 struct
  b.push_back(0x15);
  put_varint(b, zigzag(5));
  b.push_back(0);
  b.push_back(0);
  b.push_back(0x08);  // long-form field 301: binary
  put_varint(b, zigzag(301));
  put_varint(b, 3);
  b.insert(b.end(), {'e', 'n', 'd'});
  b.push_back(0);

  CompactReader r(b.data(), b.size());
  int32_t first = 0;
  std::string last;
  r.read_struct([&](int16_t id, CType t) {
    if (id == 1)
      first = r.read_i32(t);
    else if (id == 301)
      last = r.read_string(t);
    else
      r.skip(t);
  });
  EXPECT_EQ(first, -7);
  EXPECT_EQ(last, "end");
  EXPECT_EQ(r.consumed(), b.size());
}

TEST(ThriftCompact, DeeplyNestedStructsAreAnErrorNotARecursionCrash) {
  std::vector<uint8_t> b(100000, 0x1C);  // field 1 struct, forever
  CompactReader r(b.data(), b.size());
  EXPECT_THROW(r.read_struct([&](int16_t, CType t) { r.skip(t); }), FormatError);
}

TEST(ThriftCompact, HugeListSizeIsAnError) {
  std::vector<uint8_t> b = {0x19, 0xFC};  // field 1 list, size follows, struct elements
  put_varint(b, 1ull << 40);
  CompactReader r(b.data(), b.size());
  EXPECT_THROW(r.read_struct([&](int16_t, CType t) { r.skip(t); }), FormatError);
}

TEST(ThriftCompact, TruncatedInputIsAnError) {
  std::vector<uint8_t> b = {0x18, 0x10, 'a'};  // binary of 16 bytes, only one present
  CompactReader r(b.data(), b.size());
  EXPECT_THROW(r.read_struct([&](int16_t, CType t) { r.skip(t); }), FormatError);
}

TEST(RleHybrid, DecodesRunsAndBitPackedGroups) {
  std::vector<uint8_t> b;
  put_varint(b, 5 << 1);  // RLE run of 5 x value 3 (bit width 3: 1 byte)
  b.push_back(3);
  put_varint(b, (1 << 1) | 1);  // one bit-packed group of 8
  BitWriter w;
  for (uint32_t v : {0u, 1u, 2u, 3u, 4u, 5u, 6u, 7u}) w.put(v, 3);
  b.insert(b.end(), w.bytes.begin(), w.bytes.end());
  std::vector<uint32_t> out(13);
  decode_rle_hybrid(b.data(), b.size(), 3, out.size(), out.data());
  EXPECT_EQ(out, (std::vector<uint32_t>{3, 3, 3, 3, 3, 0, 1, 2, 3, 4, 5, 6, 7}));
}

TEST(RleHybrid, StreamEndingEarlyIsAnError) {
  std::vector<uint8_t> b;
  put_varint(b, 2 << 1);
  b.push_back(1);
  std::vector<uint32_t> out(3);
  EXPECT_THROW(decode_rle_hybrid(b.data(), b.size(), 1, out.size(), out.data()), FormatError);
}

TEST(RleHybrid, LevelAboveTheMaximumIsAnError) {
  std::vector<uint8_t> b;
  put_varint(b, 4 << 1);
  b.push_back(3);  // level 3 with max level 2 (bit width 2)
  std::vector<int16_t> out(4);
  EXPECT_THROW(decode_levels_rle(b.data(), b.size(), 2, out.size(), out.data()), FormatError);
}

TEST(BitPackedLevels, AreMostSignificantBitFirst) {
  // levels 1,0,1,1 with bit width 1 -> 1011 0000
  std::vector<uint8_t> b = {0xB0};
  std::vector<int16_t> out(4);
  EXPECT_EQ(decode_levels_bit_packed(b.data(), b.size(), 1, out.size(), out.data()), 1u);
  EXPECT_EQ(out, (std::vector<int16_t>{1, 0, 1, 1}));
}

std::vector<uint8_t> encode_dbp(const std::vector<int64_t>& values) {
  // One block of 128 values, 4 miniblocks of 32.
  std::vector<uint8_t> b;
  put_varint(b, 128);
  put_varint(b, 4);
  put_varint(b, values.size());
  put_varint(b, zigzag(values.empty() ? 0 : values[0]));
  for (size_t start = 1; start < values.size(); start += 128) {
    std::vector<uint64_t> deltas;
    for (size_t i = start; i < values.size() && i < start + 128; ++i)
      deltas.push_back(static_cast<uint64_t>(values[i]) - static_cast<uint64_t>(values[i - 1]));
    int64_t min_delta = INT64_MAX;
    for (uint64_t d : deltas) min_delta = std::min(min_delta, static_cast<int64_t>(d));
    put_varint(b, zigzag(min_delta));
    std::vector<int> widths(4, 0);
    for (size_t i = 0; i < deltas.size(); ++i) {
      uint64_t adj = deltas[i] - static_cast<uint64_t>(min_delta);
      int w = 0;
      while (w < 64 && (adj >> w)) ++w;
      widths[i / 32] = std::max(widths[i / 32], w);
    }
    for (int w : widths) b.push_back(static_cast<uint8_t>(w));
    for (size_t mb = 0; mb * 32 < deltas.size(); ++mb) {
      BitWriter bw;
      for (size_t i = mb * 32; i < mb * 32 + 32; ++i)
        bw.put(i < deltas.size() ? deltas[i] - static_cast<uint64_t>(min_delta) : 0, widths[mb]);
      bw.bytes.resize(static_cast<size_t>(widths[mb]) * 4);
      b.insert(b.end(), bw.bytes.begin(), bw.bytes.end());
    }
  }
  return b;
}

TEST(DeltaBinaryPacked, RoundTripsValuesAcrossBlocksAndWidths) {
  std::vector<int64_t> values;
  for (int i = 0; i < 300; ++i) values.push_back(i % 7 == 0 ? -1000000007LL * i : i * i);
  values.push_back(INT64_MAX);
  values.push_back(INT64_MIN);  // a 64-bit delta
  std::vector<uint8_t> encoded = encode_dbp(values);
  DeltaBinaryPackedDecoder decoder(encoded.data(), encoded.size());
  ASSERT_EQ(decoder.total_values(), values.size());
  std::vector<uint64_t> out(values.size());
  decoder.decode(out.data(), 10);  // in two calls
  decoder.decode(out.data() + 10, out.size() - 10);
  for (size_t i = 0; i < values.size(); ++i)
    ASSERT_EQ(static_cast<int64_t>(out[i]), values[i]) << i;
  EXPECT_EQ(decoder.consumed(), encoded.size());
}

TEST(DeltaBinaryPacked, AskingForMoreThanEncodedIsAnError) {
  std::vector<uint8_t> encoded = encode_dbp({1, 2, 3});
  DeltaBinaryPackedDecoder decoder(encoded.data(), encoded.size());
  std::vector<uint64_t> out(4);
  EXPECT_THROW(decoder.decode(out.data(), 4), FormatError);
}

TEST(DeltaBinaryPacked, InvalidHeaderIsAnError) {
  std::vector<uint8_t> b;
  put_varint(b, 100);  // block size not a multiple of 128
  put_varint(b, 4);
  put_varint(b, 1);
  put_varint(b, 0);
  EXPECT_THROW(DeltaBinaryPackedDecoder(b.data(), b.size()), FormatError);
}

TEST(DeltaBinaryPacked, TruncatedMiniblockIsAnError) {
  std::vector<int64_t> values;
  for (int i = 0; i < 100; ++i) values.push_back(i * i * 1000003LL);
  std::vector<uint8_t> encoded = encode_dbp(values);
  ASSERT_GT(encoded.size(), 40u);
  encoded.resize(encoded.size() / 2);  // cuts into the second miniblock
  DeltaBinaryPackedDecoder decoder(encoded.data(), encoded.size());
  std::vector<uint64_t> out(values.size());
  EXPECT_THROW(decoder.decode(out.data(), out.size()), FormatError);
}

}  // namespace
}  // namespace hubcache::parquet::detail
