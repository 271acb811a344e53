// safetensors tests: round trips of every dtype (non-contiguous, 0-d and empty tensors too),
// interoperability with an independent Python writer and reader (tests/io/*.py), and hostile
// files: truncation at every byte, bad lengths, bad JSON, bad dtypes, shapes and offsets.
#include "io/safetensors.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "base/file.h"
#include "base/json.h"

#ifndef KILN_SOURCE_DIR
#define KILN_SOURCE_DIR "."
#endif

namespace kiln::io {
namespace {

// (gmock is not linked; this is HasSubstr with a readable failure.)
#define EXPECT_CONTAINS(text, sub)                          \
  EXPECT_NE(std::string(text).find(sub), std::string::npos) \
      << "'" << std::string(text) << "' does not contain '" << (sub) << "'"

std::string Tmp(const std::string& name) { return testing::TempDir() + "/kiln_io_" + name; }

const std::vector<DType> kAllDTypes = {DType::kF32, DType::kF64, DType::kBF16, DType::kF16,
                                       DType::kI32, DType::kI64, DType::kU8,   DType::kBool};

// Deterministic values exactly representable in `dtype` (i64 values need more than 53 bits, so
// a double round trip would hide a truncation).
Tensor Sample(DType dtype, const Shape& shape, int salt = 0) {
  int64_t n = NumElements(shape);
  if (dtype == DType::kI64) {
    std::vector<int64_t> v;
    for (int64_t i = 0; i < n; ++i) v.push_back((i + salt) * 1234567890123457LL - 4);
    return FromVector<int64_t>(v, shape, dtype);
  }
  std::vector<double> v;
  for (int64_t i = 0; i < n; ++i) {
    int64_t k = (i * 7 + salt) % 23;
    switch (dtype) {
      case DType::kU8:
        v.push_back(static_cast<double>((k * 37) % 256));
        break;
      case DType::kBool:
        v.push_back(k % 3 == 0 ? 1 : 0);
        break;
      case DType::kI32:
        v.push_back(static_cast<double>(k - 11) * 100000);
        break;
      default:
        v.push_back(static_cast<double>(k - 11) * 0.25);
        break;
    }
  }
  return FromVector<double>(v, shape, dtype);
}

void ExpectSameTensor(const Tensor& want, const Tensor& got, const std::string& what) {
  SCOPED_TRACE(what);
  ASSERT_TRUE(got.defined());
  EXPECT_EQ(got.dtype(), want.dtype());
  EXPECT_EQ(ShapeToString(got.shape()), ShapeToString(want.shape()));
  EXPECT_TRUE(got.is_contiguous());
  if (IsFloating(want.dtype())) {
    EXPECT_EQ(got.ToVector<double>(), want.ToVector<double>());
  } else {
    EXPECT_EQ(got.ToVector<int64_t>(), want.ToVector<int64_t>());
  }
}

// A file from a header text and a data section, exactly as given (no padding, no checks).
std::string MakeFile(const std::string& header, const std::string& data = "") {
  uint64_t n = header.size();
  std::string out(reinterpret_cast<const char*>(&n), 8);
  return out + header + data;
}

// -S skips site-packages: the helpers need only json and struct, and startup is most of their time.
bool HavePython() {
  static const bool have = std::system("python3 -S -c pass > /dev/null 2>&1") == 0;
  return have;
}

TEST(Safetensors, RoundTripAllDTypes) {
  std::map<std::string, Tensor> tensors;
  for (DType dt : kAllDTypes) {
    std::string name = SafetensorsDTypeName(dt);
    tensors[name + ".plain"] = Sample(dt, {2, 3});
    // Non-contiguous: a strided, transposed window with an offset, and a broadcast (stride 0).
    Tensor base = Sample(dt, {4, 6}, 5);
    tensors[name + ".strided"] = Tensor::MakeView(base.storage(), 1, {3, 2}, {2, 6}, dt);
    tensors[name + ".broadcast"] = Tensor::MakeView(base.storage(), 7, {2, 3}, {0, 1}, dt);
    tensors[name + ".scalar"] = Sample(dt, {}, 3);
    tensors[name + ".empty"] = Sample(dt, {0, 3});
  }
  ASSERT_FALSE(tensors["F32.strided"].is_contiguous());
  std::string path = Tmp("roundtrip.safetensors");
  ASSERT_TRUE(WriteSafetensors(path, tensors).ok());
  auto file = ReadSafetensors(path);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_TRUE(file->metadata.empty());
  ASSERT_EQ(file->tensors.size(), tensors.size());
  for (const auto& [name, t] : tensors) ExpectSameTensor(t, file->tensors.at(name), name);
}

TEST(Safetensors, MetadataRoundTripAndEmptyFile) {
  std::map<std::string, std::string> meta = {{"format", "pt"},
                                             {"quote\"and\\slash", "line\nbreak"},
                                             {"unicode", "K\xc3\xa4se \xe2\x9c\x93"}};
  std::string path = Tmp("meta.safetensors");
  ASSERT_TRUE(WriteSafetensors(path, {}, meta).ok());
  auto file = ReadSafetensors(path);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->metadata, meta);
  EXPECT_TRUE(file->tensors.empty());
  // A tensor whose name needs escaping.
  std::map<std::string, Tensor> odd = {{"a \"b\"/c.d", Sample(DType::kF32, {2})}};
  ASSERT_TRUE(WriteSafetensors(path, odd).ok());
  file = ReadSafetensors(path);
  ASSERT_TRUE(file.ok()) << file.status();
  ExpectSameTensor(odd.begin()->second, file->tensors.at("a \"b\"/c.d"), "escaped name");
}

TEST(Safetensors, LayoutIsAlignedSortedAndPacked) {
  std::map<std::string, Tensor> tensors = {{"b", Sample(DType::kU8, {3})},
                                           {"a", Sample(DType::kF64, {2})}};
  auto bytes = SerializeSafetensors(tensors, {{"k", "v"}});
  ASSERT_TRUE(bytes.ok());
  uint64_t n;
  std::memcpy(&n, bytes->data(), 8);
  EXPECT_EQ((8 + n) % 8, 0u);
  EXPECT_EQ(bytes->size(), 8 + n + 16 + 3);
  auto header = ParseJson(bytes->substr(8, n), "header");
  ASSERT_TRUE(header.ok());
  EXPECT_EQ((*header)["a"]["data_offsets"], Json::parse("[0, 16]"));
  EXPECT_EQ((*header)["b"]["data_offsets"], Json::parse("[16, 19]"));
  EXPECT_EQ((*header)["__metadata__"]["k"], "v");
  EXPECT_EQ(bytes->substr(8, 1), "{");
}

TEST(Safetensors, WriterRejectsBadInput) {
  auto s = WriteSafetensors(Tmp("bad.safetensors"), {{"__metadata__", Sample(DType::kF32, {1})}});
  EXPECT_FALSE(s.ok());
  EXPECT_CONTAINS(s.message(), "__metadata__");
  s = WriteSafetensors(Tmp("bad.safetensors"), {{"x", Tensor()}});
  EXPECT_FALSE(s.ok());
  EXPECT_CONTAINS(s.message(), "'x' is undefined");
  s = WriteSafetensors(Tmp("bad.safetensors"), {{"\xff", Sample(DType::kF32, {1})}});
  EXPECT_FALSE(s.ok());
  EXPECT_CONTAINS(s.message(), "UTF-8");
}

TEST(Safetensors, ReadsFileFromPythonWriter) {
  // python3 is installed by scripts/setup.sh, so its absence is a broken setup, not a skip.
  ASSERT_TRUE(HavePython())
      << "python3 not found; run scripts/setup.sh (tests/io/write_safetensors.py)";
  std::string path = Tmp("from_python.safetensors");
  std::string cmd =
      std::string("python3 -S ") + KILN_SOURCE_DIR + "/tests/io/write_safetensors.py " + path;
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  auto file = ReadSafetensors(path);
  ASSERT_TRUE(file.ok()) << file.status();
  const auto& t = file->tensors;
  ASSERT_EQ(t.size(), 10u);
  EXPECT_EQ(file->metadata.at("source"), "write_safetensors.py");
  EXPECT_EQ(t.at("f32").ToVector<float>(),
            (std::vector<float>{0.5f, -1.25f, 3.0f, 1e-3f, -0.0f, 65504.0f}));
  EXPECT_EQ(ShapeToString(t.at("f32").shape()), "(2, 3)");
  EXPECT_EQ(t.at("f64").ToVector<double>(), (std::vector<double>{1.0 / 3.0, -2.5e300, 7.0}));
  const BFloat16* bf = t.at("bf16").data<BFloat16>();
  EXPECT_EQ(bf[0].bits, 0x3F80);
  EXPECT_EQ(bf[3].bits, 0x7F80);
  EXPECT_EQ(t.at("bf16").ToVector<float>(), (std::vector<float>{1, -2, 0.25f, INFINITY}));
  EXPECT_EQ(t.at("f16").data<Half>()[2].bits, 0x3555);
  EXPECT_EQ(t.at("f16").ToVector<float>()[1], -2.5f);
  EXPECT_EQ(t.at("i32").ToVector<int64_t>(),
            (std::vector<int64_t>{1, -2, 2147483647, -2147483648LL}));
  EXPECT_EQ(t.at("i64").ToVector<int64_t>(),
            (std::vector<int64_t>{INT64_MIN, (int64_t{1} << 62) + 7}));
  EXPECT_EQ(t.at("u8").ToVector<int64_t>(), (std::vector<int64_t>{0, 1, 128, 255}));
  EXPECT_EQ(t.at("bool").dtype(), DType::kBool);
  EXPECT_EQ(t.at("bool").ToVector<int64_t>(), (std::vector<int64_t>{1, 0, 0, 1}));
  EXPECT_EQ(t.at("scalar").dim(), 0);
  EXPECT_EQ(t.at("scalar").item(), 42.0);
  EXPECT_EQ(ShapeToString(t.at("empty").shape()), "(0, 5)");
}

TEST(Safetensors, KilnFileValidatedByPythonReader) {
  ASSERT_TRUE(HavePython())
      << "python3 not found; run scripts/setup.sh (tests/io/read_safetensors.py)";
  std::map<std::string, Tensor> tensors;
  Json expected = {{"metadata", {{"format", "pt"}}}, {"tensors", Json::object()}};
  for (DType dt : kAllDTypes) {
    Tensor base = Sample(dt, {4, 6}, 2);
    Tensor view = Tensor::MakeView(base.storage(), 2, {3, 2}, {6, 2}, dt);
    for (const auto& [suffix, t] : std::map<std::string, Tensor>{
             {".view", view}, {".scalar", Sample(dt, {}, 1)}, {".empty", Sample(dt, {2, 0})}}) {
      std::string name = std::string(SafetensorsDTypeName(dt)) + suffix;
      tensors[name] = t;
      Json values = Json::array();
      if (dt == DType::kBF16 || dt == DType::kF16) {
        for (float f : t.ToVector<float>()) {
          values.push_back(dt == DType::kBF16 ? FloatToBf16Bits(f) : FloatToHalfBits(f));
        }
      } else if (IsFloating(dt)) {
        for (double d : t.ToVector<double>()) values.push_back(d);
      } else {
        for (int64_t i : t.ToVector<int64_t>()) values.push_back(i);
      }
      Json shape = Json::array();
      for (int64_t d : t.shape()) shape.push_back(d);
      expected["tensors"][name] = {
          {"dtype", SafetensorsDTypeName(dt)}, {"shape", shape}, {"values", values}};
    }
  }
  std::string path = Tmp("for_python.safetensors");
  std::string want = Tmp("for_python.expected.json");
  ASSERT_TRUE(WriteSafetensors(path, tensors, {{"format", "pt"}}).ok());
  ASSERT_TRUE(WriteJsonFile(want, expected).ok());
  std::string cmd = std::string("python3 -S ") + KILN_SOURCE_DIR +
                    "/tests/io/read_safetensors.py " + path + " " + want;
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;

  // The validator is not a rubber stamp: one wrong expected value makes it fail.
  expected["tensors"]["I64.view"]["values"][0] = 12345;
  ASSERT_TRUE(WriteJsonFile(want, expected).ok());
  EXPECT_NE(std::system((cmd + " > /dev/null").c_str()), 0);
}

TEST(Safetensors, TruncatedAtEveryOffsetIsAnError) {
  auto bytes = SerializeSafetensors({{"w", Sample(DType::kF32, {2, 2})},
                                     {"b", Sample(DType::kBF16, {3})},
                                     {"s", Sample(DType::kI64, {})}},
                                    {{"format", "pt"}});
  ASSERT_TRUE(bytes.ok());
  ASSERT_TRUE(ParseSafetensors(*bytes, "full").ok());
  for (size_t len = 0; len < bytes->size(); ++len) {
    auto r = ParseSafetensors(bytes->substr(0, len), "cut");
    EXPECT_FALSE(r.ok()) << "truncated to " << len << " of " << bytes->size() << " bytes";
    if (!r.ok()) {
      EXPECT_CONTAINS(r.status().message(), "cut: ");
    }
  }
  // The same through the file system: the path is named.
  std::string path = Tmp("truncated.safetensors");
  ASSERT_TRUE(WriteFileAtomic(path, bytes->substr(0, bytes->size() - 1)).ok());
  auto r = ReadSafetensors(path);
  ASSERT_FALSE(r.ok());
  EXPECT_CONTAINS(r.status().message(), path);
}

TEST(Safetensors, MissingFileAndFolder) {
  auto r = ReadSafetensors(Tmp("does_not_exist.safetensors"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  r = ReadSafetensors(testing::TempDir());
  ASSERT_FALSE(r.ok());
  EXPECT_CONTAINS(r.status().message(), "not a regular file");
}

struct HostileCase {
  const char* label;
  std::string bytes;
  const char* message;  // a substring the error must contain
};

TEST(Safetensors, HostileFilesGiveClearErrors) {
  const std::string f32x2 = R"("dtype":"F32","shape":[2])";
  std::string eight(8, '\0');
  std::string huge_len(8, '\0');
  uint64_t big = uint64_t{1} << 60;
  std::memcpy(huge_len.data(), &big, 8);
  std::string over_limit(8, '\0');
  uint64_t limit = 100'000'001;
  std::memcpy(over_limit.data(), &limit, 8);
  std::string past_end(8, '\0');
  uint64_t ten = 10;
  std::memcpy(past_end.data(), &ten, 8);
  std::string deep = R"({"t":{"dtype":"U8","shape":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1],)"
                     R"("data_offsets":[0,1]}})";
  std::vector<HostileCase> cases = {
      {"empty file", "", "shorter than the 8-byte header length"},
      {"7 bytes", "\x01\x02\x03\x04\x05\x06\x07", "shorter than the 8-byte"},
      {"absurd header length", huge_len + "{}", "exceeds the 100000000-byte limit"},
      {"header over 100 MB", over_limit + "{}", "exceeds the 100000000-byte limit"},
      {"header past end", past_end + "{}", "header length 10 is larger than the 2 bytes"},
      {"zero header length", eight, "invalid JSON"},
      {"not JSON", MakeFile("{not json}"), "invalid JSON"},
      {"JSON array", MakeFile("[1, 2]"), "expected a JSON object, got array"},
      {"invalid UTF-8", MakeFile("{\"\xff\":1}"), "invalid JSON"},
      {"unknown dtype",
       MakeFile(R"({"t":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}})", "x"),
       "tensor 't': unsupported dtype 'F8_E4M3'"},
      {"dtype not a string", MakeFile(R"({"t":{"dtype":4,"shape":[1],"data_offsets":[0,4]}})"),
       "'dtype' must be a string"},
      {"entry not an object", MakeFile(R"({"t":[1,2]})"), "tensor 't': expected an object"},
      {"missing shape", MakeFile(R"({"t":{"dtype":"F32","data_offsets":[0,4]}})", "xxxx"),
       "tensor 't': missing 'shape'"},
      {"negative shape",
       MakeFile(R"({"t":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", "12345678"),
       "tensor 't': shape[0]: must not be negative, got -2"},
      {"fractional shape",
       MakeFile(R"({"t":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}})", "12345678"),
       "shape[0]: expected a non-negative integer, got 2.5"},
      {"shape not a list", MakeFile(R"({"t":{"dtype":"F32","shape":2,"data_offsets":[0,8]}})"),
       "'shape' must be a list"},
      {"element count overflow",
       MakeFile(R"({"t":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,0]}})"),
       "overflows the element count"},
      {"byte count overflow",
       MakeFile(R"({"t":{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,0]}})"),
       "overflows the element count"},
      {"too many dims", MakeFile(deep, "x"), "17 dims"},
      {"offsets not a pair", MakeFile("{\"t\":{" + f32x2 + R"(,"data_offsets":[0]}})"),
       "'data_offsets' must be [begin, end]"},
      {"offsets end before begin",
       MakeFile("{\"t\":{" + f32x2 + R"(,"data_offsets":[8,0]}})", "12345678"), "end before begin"},
      {"offsets size mismatch", MakeFile("{\"t\":{" + f32x2 + R"(,"data_offsets":[0,4]}})", "1234"),
       "span 4 bytes, but f32 [2] needs 8"},
      {"offsets negative", MakeFile("{\"t\":{" + f32x2 + R"(,"data_offsets":[-8,0]}})"),
       "data_offsets[0]: must not be negative"},
      {"offsets out of range", MakeFile("{\"t\":{" + f32x2 + R"(,"data_offsets":[8,16]}})", "1234"),
       "reach past the data section (4 bytes)"},
      {"overlapping tensors",
       MakeFile("{\"a\":{" + f32x2 + R"(,"data_offsets":[0,8]},"b":{)" + f32x2 +
                    R"(,"data_offsets":[4,12]}})",
                "123456789012"),
       "tensor 'b' (bytes 4..12) overlaps tensor 'a'"},
      {"hole between tensors",
       MakeFile("{\"a\":{" + f32x2 + R"(,"data_offsets":[0,8]},"b":{)" + f32x2 +
                    R"(,"data_offsets":[12,20]}})",
                "12345678901234567890"),
       "bytes 8..12 of the data section belong to no tensor"},
      {"trailing bytes", MakeFile("{\"t\":{" + f32x2 + R"(,"data_offsets":[0,8]}})", "123456789"),
       "data section is 9 bytes but the tensors cover 8"},
      {"duplicate tensor name",
       MakeFile("{\"t\":{" + f32x2 + R"(,"data_offsets":[0,8]},"t":{)" + f32x2 +
                    R"(,"data_offsets":[0,8]}})",
                "12345678"),
       "duplicate tensor name 't'"},
      {"duplicate field",
       MakeFile(R"({"t":{"dtype":"F32","dtype":"U8","shape":[1],"data_offsets":[0,1]}})", "1"),
       "duplicate key 'dtype'"},
      {"metadata not strings", MakeFile(R"({"__metadata__":{"step":3}})"),
       "__metadata__: value of 'step' must be a string"},
      {"metadata not an object", MakeFile(R"({"__metadata__":"x"})"),
       "__metadata__: expected an object"},
      {"bool byte not 0/1",
       MakeFile(R"({"m":{"dtype":"BOOL","shape":[3],"data_offsets":[0,3]}})",
                std::string("\1\2\0", 3)),
       "tensor 'm': BOOL element 1 is 2"},
  };
  std::string long_list = R"({"t":{"dtype":"U8","shape":[1],"data_offsets":[)";
  for (int i = 0; i < 100000; ++i) long_list += "0,";
  cases.push_back({"huge offsets list", MakeFile(long_list + "0]}}"), "must be [begin, end]"});
  cases.push_back(
      {"deep nesting",
       MakeFile("{\"__metadata__\":" + std::string(100000, '[') + std::string(100000, ']') + "}"),
       "nested deeper than 16 levels"});
  for (const HostileCase& c : cases) {
    auto r = ParseSafetensors(c.bytes, "hostile.safetensors");
    ASSERT_FALSE(r.ok()) << c.label;
    std::string msg(r.status().message());
    EXPECT_CONTAINS(msg, "hostile.safetensors: ") << c.label;
    EXPECT_CONTAINS(msg, c.message) << c.label;
    EXPECT_LT(msg.size(), 400u) << c.label;  // quoted values are cut short
  }
}

TEST(Safetensors, LenientWhereTheFormatAllows) {
  // Unknown fields in an entry are ignored (as the reference reader does), header whitespace and
  // padding are fine, and zero-size tensors may sit at any offset where they break no tiling.
  std::string header = R"(  {"e":{"dtype":"I32","shape":[0],"data_offsets":[4,4]},)"
                       R"("t":{"dtype":"U8","shape":[4],"data_offsets":[0,4],"extra":1}}     )";
  auto r = ParseSafetensors(MakeFile(header, "\1\2\3\4"), "lenient");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->tensors.at("t").ToVector<int64_t>(), (std::vector<int64_t>{1, 2, 3, 4}));
  EXPECT_EQ(r->tensors.at("e").numel(), 0);
}

}  // namespace
}  // namespace kiln::io
