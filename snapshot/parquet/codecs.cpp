// Page decompression. Every codec writes into a buffer of exactly the size the page header
// promises; producing fewer or more bytes is an error.
#include <brotli/decode.h>
#include <lz4.h>
#include <snappy.h>
#include <zlib.h>
#include <zstd.h>

#include <memory>

#include "snapshot/parquet/internal.h"

namespace hubcache::parquet::detail {
namespace {

void inflate_gzip(const uint8_t* in, size_t in_size, uint8_t* out, size_t out_size) {
  if (in_size > UINT32_MAX || out_size > UINT32_MAX) fail("gzip: page too large");
  z_stream zs{};
  // 15 + 32: zlib or gzip header, detected automatically.
  if (inflateInit2(&zs, 15 + 32) != Z_OK) fail("gzip: inflateInit2 failed");
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&zs, inflateEnd);
  zs.next_in = const_cast<Bytef*>(in);
  zs.avail_in = static_cast<uInt>(in_size);
  zs.next_out = out;
  zs.avail_out = static_cast<uInt>(out_size);
  // A page may hold several concatenated gzip members: keep inflating until the input is used up.
  for (;;) {
    int rc = inflate(&zs, Z_FINISH);
    if (rc == Z_STREAM_END) {
      if (zs.avail_in == 0 || zs.avail_out == 0) break;
      if (inflateReset(&zs) != Z_OK) fail("gzip: inflateReset failed");
      continue;
    }
    if (rc == Z_BUF_ERROR && zs.avail_out == 0)
      fail("gzip: page inflates to more than its declared size");
    fail(std::string("gzip: corrupt data (") + (zs.msg ? zs.msg : "inflate error") + ")");
  }
  if (zs.avail_out != 0) fail("gzip: page inflates to fewer bytes than declared");
}

}  // namespace

void decompress(Codec codec, const uint8_t* in, size_t in_size, uint8_t* out, size_t out_size) {
  switch (codec) {
    case Codec::kUncompressed:
      if (in_size != out_size) fail("uncompressed page: compressed and uncompressed sizes differ");
      if (in_size) std::memcpy(out, in, in_size);
      return;
    case Codec::kSnappy: {
      size_t length = 0;
      if (!snappy::GetUncompressedLength(reinterpret_cast<const char*>(in), in_size, &length))
        fail("snappy: corrupt data");
      if (length != out_size) fail("snappy: page decompresses to a size other than declared");
      if (!snappy::RawUncompress(reinterpret_cast<const char*>(in), in_size,
                                 reinterpret_cast<char*>(out)))
        fail("snappy: corrupt data");
      return;
    }
    case Codec::kGzip:
      inflate_gzip(in, in_size, out, out_size);
      return;
    case Codec::kZstd: {
      size_t n = ZSTD_decompress(out, out_size, in, in_size);
      if (ZSTD_isError(n)) fail(std::string("zstd: ") + ZSTD_getErrorName(n));
      if (n != out_size) fail("zstd: page decompresses to fewer bytes than declared");
      return;
    }
    case Codec::kBrotli: {
      size_t n = out_size;
      if (BrotliDecoderDecompress(in_size, in, &n, out) != BROTLI_DECODER_RESULT_SUCCESS)
        fail("brotli: corrupt data or larger than declared");
      if (n != out_size) fail("brotli: page decompresses to fewer bytes than declared");
      return;
    }
    case Codec::kLz4Raw: {
      if (in_size > INT32_MAX || out_size > INT32_MAX) fail("lz4: page too large");
      int n = LZ4_decompress_safe(reinterpret_cast<const char*>(in), reinterpret_cast<char*>(out),
                                  static_cast<int>(in_size), static_cast<int>(out_size));
      if (n < 0) fail("lz4: corrupt data");
      if (static_cast<size_t>(n) != out_size)
        fail("lz4: page decompresses to fewer bytes than declared");
      return;
    }
    default:
      fail("unsupported codec " + std::string(to_string(codec)) + " (#" +
           std::to_string(static_cast<int>(codec)) + ")");
  }
}

}  // namespace hubcache::parquet::detail
