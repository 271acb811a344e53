// safetensors: 8-byte little-endian header length N, N bytes of JSON header, then the data section.
// The reader checks every header field and that the tensors tile the data section exactly (no
// holes, no overlap, no trailing bytes), as the reference Rust implementation does, before it
// copies a single byte; so a hostile file yields a Status and allocations never exceed its size.
#include "io/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>
#include <set>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/file.h"
#include "base/json.h"

namespace kiln::io {
namespace {

// Tensor bytes are copied as they are in memory; the format is little-endian.
static_assert(std::endian::native == std::endian::little,
              "kiln's safetensors code assumes a little-endian host");

// The reference implementation refuses headers over 100 MB: a real header is kilobytes, and a
// bigger length is a corrupt or hostile file that would make us allocate for nothing.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
// ForEachOffset (tensor/element.h) and the kernels index up to 16 dims.
constexpr size_t kMaxRank = 16;

// Deeper JSON than a safetensors header needs (3 levels) is refused before anything recursive
// (nlohmann's dump) walks it.
constexpr int kMaxJsonDepth = 16;

absl::Status Invalid(const std::string& where, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(where, ": ", what));
}

// Compact JSON of a string value (quotes, escapes); fails on invalid UTF-8.
absl::StatusOr<std::string> JsonString(const std::string& s, const std::string& what) {
  try {
    return Json(s).dump();
  } catch (const Json::exception&) {
    return absl::InvalidArgumentError(absl::StrCat("safetensors: ", what, " is not valid UTF-8"));
  }
}

// A JSON value for an error message, cut short: a hostile header may hold a megabyte-long list.
std::string Brief(const Json& v) {
  std::string s = v.dump();
  return s.size() <= 80 ? s : s.substr(0, 77) + "...";
}

std::string ShapeJson(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) absl::StrAppend(&s, i ? "," : "", shape[i]);
  return s + "]";
}

// Reads a whole regular file with one allocation of its exact size (ReadFile's stringstream would
// hold the bytes twice, which matters for multi-GB checkpoints).
absl::StatusOr<std::string> ReadWholeFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::NotFoundError(absl::StrCat(path, ": cannot open (", std::strerror(errno), ")"));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a regular file"));
  }
  std::string out(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < out.size()) {
    ssize_t n = ::read(fd, out.data() + got, out.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::string err = n < 0 ? std::strerror(errno) : "file shrank while reading";
      ::close(fd);
      return absl::DataLossError(absl::StrCat(path, ": read error (", err, ")"));
    }
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  return out;
}

// Parses the header JSON, failing on a duplicate key in any object: nlohmann keeps the last of two
// equal keys, which would silently drop a tensor (or a field) that the file does describe.
absl::StatusOr<Json> ParseHeader(const std::string& text, const std::string& where) {
  std::vector<std::set<std::string>> open_objects;
  std::string duplicate;
  bool duplicate_is_tensor = false;
  int max_depth = 0;
  auto callback = [&](int depth, Json::parse_event_t event, Json& parsed) {
    max_depth = std::max(max_depth, depth);
    if (event == Json::parse_event_t::object_start) {
      open_objects.emplace_back();
    } else if (event == Json::parse_event_t::object_end) {
      if (!open_objects.empty()) open_objects.pop_back();
    } else if (event == Json::parse_event_t::key && !open_objects.empty() && duplicate.empty()) {
      const std::string& key = parsed.get_ref<const std::string&>();
      if (!open_objects.back().insert(key).second) {
        duplicate = key;
        duplicate_is_tensor = open_objects.size() == 1;
      }
    }
    return true;
  };
  Json header = Json::parse(text, callback, /*allow_exceptions=*/false);
  if (header.is_discarded()) {
    // Parse again with exceptions for the parser's message. Not through ParseJson: nlohmann throws
    // out_of_range (not parse_error) for a number too large for a double ("1e400"), and ParseJson
    // catches only parse_error, so that header escaped as an exception (found by fuzzing).
    try {
      Json ignored = Json::parse(text);
      (void)ignored;
    } catch (const Json::exception& e) {
      std::string msg = e.what();
      auto pos = msg.find("] ");  // drop nlohmann's "[json.exception.parse_error.101] " tag
      if (pos != std::string::npos) msg = msg.substr(pos + 2);
      // The message quotes the offending token, which a hostile header can make megabytes long.
      if (msg.size() > 200) msg = msg.substr(0, 197) + "...";
      return Invalid(where, absl::StrCat("header: invalid JSON: ", msg));
    }
    return Invalid(where, "header: invalid JSON");
  }
  if (max_depth > kMaxJsonDepth) {
    return Invalid(where,
                   absl::StrCat("header: JSON nested deeper than ", kMaxJsonDepth, " levels"));
  }
  if (!duplicate.empty()) {
    return Invalid(where, duplicate_is_tensor
                              ? absl::StrCat("duplicate tensor name '", duplicate, "' in header")
                              : absl::StrCat("duplicate key '", duplicate, "' in header"));
  }
  if (!header.is_object()) {
    return Invalid(where, absl::StrCat("header: expected a JSON object, got ", header.type_name()));
  }
  return header;
}

// A JSON value that must be an integer in [0, 2^63).
absl::StatusOr<int64_t> NonNegativeInt(const Json& v, const std::string& where,
                                       const std::string& field) {
  if (!v.is_number_integer()) {
    return Invalid(where, absl::StrCat(field, ": expected a non-negative integer, got ", Brief(v)));
  }
  if (!v.is_number_unsigned()) {
    return Invalid(where, absl::StrCat(field, ": must not be negative, got ", Brief(v)));
  }
  uint64_t u = v.get<uint64_t>();
  if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return Invalid(where, absl::StrCat(field, ": value ", Brief(v), " is too large"));
  }
  return static_cast<int64_t>(u);
}

struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  int64_t begin, end;  // offsets into the data section
};

absl::StatusOr<Entry> ParseEntry(const std::string& name, const Json& info,
                                 const std::string& where, int64_t data_size) {
  const std::string tw = absl::StrCat("tensor '", name, "'");
  if (!info.is_object()) {
    return Invalid(where, absl::StrCat(tw, ": expected an object, got ", info.type_name()));
  }
  Entry e;
  e.name = name;
  for (const char* field : {"dtype", "shape", "data_offsets"}) {
    if (!info.contains(field)) return Invalid(where, absl::StrCat(tw, ": missing '", field, "'"));
  }
  const Json& dt = info["dtype"];
  if (!dt.is_string()) return Invalid(where, absl::StrCat(tw, ": 'dtype' must be a string"));
  auto dtype = ParseSafetensorsDType(dt.get<std::string>());
  if (!dtype.ok()) return Invalid(where, absl::StrCat(tw, ": ", dtype.status().message()));
  e.dtype = *dtype;

  const Json& shape = info["shape"];
  if (!shape.is_array()) {
    return Invalid(where, absl::StrCat(tw, ": 'shape' must be a list, got ", Brief(shape)));
  }
  if (shape.size() > kMaxRank) {
    return Invalid(
        where, absl::StrCat(tw, ": 'shape' has ", shape.size(), " dims, kiln supports ", kMaxRank));
  }
  int64_t numel = 1;
  bool overflow = false;
  for (size_t i = 0; i < shape.size(); ++i) {
    auto d = NonNegativeInt(shape[i], where, absl::StrCat(tw, ": shape[", i, "]"));
    if (!d.ok()) return d.status();
    e.shape.push_back(*d);
    overflow |= __builtin_mul_overflow(numel, *d, &numel);
  }
  int64_t nbytes = 0;
  if (overflow || __builtin_mul_overflow(numel, DTypeSize(e.dtype), &nbytes)) {
    return Invalid(where,
                   absl::StrCat(tw, ": shape ", Brief(shape), " overflows the element count"));
  }

  const Json& off = info["data_offsets"];
  if (!off.is_array() || off.size() != 2) {
    return Invalid(where,
                   absl::StrCat(tw, ": 'data_offsets' must be [begin, end], got ", Brief(off)));
  }
  auto begin = NonNegativeInt(off[0], where, absl::StrCat(tw, ": data_offsets[0]"));
  if (!begin.ok()) return begin.status();
  auto end = NonNegativeInt(off[1], where, absl::StrCat(tw, ": data_offsets[1]"));
  if (!end.ok()) return end.status();
  e.begin = *begin;
  e.end = *end;
  if (e.end < e.begin) {
    return Invalid(where, absl::StrCat(tw, ": data_offsets ", Brief(off), ": end before begin"));
  }
  if (e.end - e.begin != nbytes) {
    return Invalid(where, absl::StrCat(tw, ": data_offsets ", Brief(off), " span ", e.end - e.begin,
                                       " bytes, but ", DTypeName(e.dtype), " ", Brief(shape),
                                       " needs ", nbytes));
  }
  if (e.end > data_size) {
    return Invalid(where, absl::StrCat(tw, ": data_offsets ", Brief(off),
                                       " reach past the data section (", data_size, " bytes)"));
  }
  return e;
}

// Copies a tensor's elements in row-major order into `out` (any strides, any rank). Bool bytes
// are normalized to 0/1 so the file is valid whatever the storage holds.
void AppendContiguousBytes(const Tensor& t, std::string* out) {
  const int64_t esize = DTypeSize(t.dtype());
  const int64_t n = t.numel();
  if (n == 0) return;
  const size_t start = out->size();
  const char* base = static_cast<const char*>(t.storage()->data());
  if (t.is_contiguous()) {
    out->append(base + t.offset() * esize, static_cast<size_t>(n * esize));
  } else {
    out->resize(start + static_cast<size_t>(n * esize));
    char* dst = out->data() + start;
    const Shape& sizes = t.shape();
    const Shape& strides = t.strides();
    const int64_t nd = t.dim();
    std::vector<int64_t> idx(static_cast<size_t>(nd), 0);
    int64_t off = t.offset();
    for (int64_t i = 0; i < n; ++i) {
      std::memcpy(dst + i * esize, base + off * esize, static_cast<size_t>(esize));
      for (int64_t d = nd - 1; d >= 0; --d) {
        if (++idx[d] < sizes[d]) {
          off += strides[d];
          break;
        }
        off -= strides[d] * (sizes[d] - 1);
        idx[d] = 0;
      }
    }
  }
  if (t.dtype() == DType::kBool) {
    for (size_t i = start; i < out->size(); ++i) (*out)[i] = (*out)[i] != 0 ? 1 : 0;
  }
}

}  // namespace

const char* SafetensorsDTypeName(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return "F32";
    case DType::kF64:
      return "F64";
    case DType::kBF16:
      return "BF16";
    case DType::kF16:
      return "F16";
    case DType::kI32:
      return "I32";
    case DType::kI64:
      return "I64";
    case DType::kU8:
      return "U8";
    case DType::kBool:
      return "BOOL";
  }
  return "?";
}

absl::StatusOr<DType> ParseSafetensorsDType(const std::string& name) {
  for (int i = 0; i < kNumDTypes; ++i) {
    DType t = static_cast<DType>(i);
    if (name == SafetensorsDTypeName(t)) return t;
  }
  return absl::InvalidArgumentError(absl::StrCat("unsupported dtype '", name,
                                                 "' (kiln reads F32, F64, BF16, F16, I32, I64, U8, "
                                                 "BOOL)"));
}

absl::StatusOr<SafetensorsFile> ParseSafetensors(const std::string& bytes,
                                                 const std::string& where) {
  if (bytes.size() < 8) {
    return Invalid(where, absl::StrCat("file is ", bytes.size(),
                                       " bytes, shorter than the 8-byte header length"));
  }
  uint64_t header_len = 0;
  std::memcpy(&header_len, bytes.data(), 8);
  const uint64_t after_len = bytes.size() - 8;
  if (header_len > kMaxHeaderBytes) {
    return Invalid(where, absl::StrCat("header length ", header_len, " exceeds the ",
                                       kMaxHeaderBytes, "-byte limit (corrupt file?)"));
  }
  if (header_len > after_len) {
    return Invalid(where, absl::StrCat("header length ", header_len, " is larger than the ",
                                       after_len, " bytes after the length field (truncated?)"));
  }
  auto header = ParseHeader(bytes.substr(8, header_len), where);
  if (!header.ok()) return header.status();

  const char* data = bytes.data() + 8 + header_len;
  const int64_t data_size = static_cast<int64_t>(after_len - header_len);
  SafetensorsFile out;
  std::vector<Entry> entries;
  for (const auto& [name, info] : header->items()) {
    if (name == "__metadata__") {
      if (!info.is_object()) {
        return Invalid(where, absl::StrCat("__metadata__: expected an object, got ", Brief(info)));
      }
      for (const auto& [key, value] : info.items()) {
        if (!value.is_string()) {
          return Invalid(where, absl::StrCat("__metadata__: value of '", key,
                                             "' must be a string, got ", Brief(value)));
        }
        out.metadata[key] = value.get<std::string>();
      }
      continue;
    }
    auto e = ParseEntry(name, info, where, data_size);
    if (!e.ok()) return e.status();
    entries.push_back(std::move(*e));
  }

  // The tensors must tile [0, data_size) exactly: sorted by offsets, each begins where the previous
  // ended. This rules out overlap (two tensors sharing bytes), holes and trailing bytes.
  std::vector<const Entry*> order;
  for (const Entry& e : entries) order.push_back(&e);
  std::sort(order.begin(), order.end(), [](const Entry* a, const Entry* b) {
    return std::tie(a->begin, a->end, a->name) < std::tie(b->begin, b->end, b->name);
  });
  int64_t cursor = 0;
  const Entry* prev = nullptr;
  for (const Entry* e : order) {
    if (e->begin < cursor) {
      return Invalid(where, absl::StrCat("tensor '", e->name, "' (bytes ", e->begin, "..", e->end,
                                         ") overlaps tensor '", prev->name, "' (bytes ",
                                         prev->begin, "..", prev->end, ")"));
    }
    if (e->begin > cursor) {
      return Invalid(
          where, absl::StrCat("bytes ", cursor, "..", e->begin,
                              " of the data section belong to no tensor (before '", e->name, "')"));
    }
    cursor = e->end;
    prev = e;
  }
  if (cursor != data_size) {
    return Invalid(
        where, absl::StrCat("data section is ", data_size, " bytes but the tensors cover ", cursor,
                            " (trailing bytes or truncated header offsets)"));
  }

  for (const Entry& e : entries) {
    const char* src = data + e.begin;
    if (e.dtype == DType::kBool) {
      for (int64_t i = 0; i < e.end - e.begin; ++i) {
        if (static_cast<unsigned char>(src[i]) > 1) {
          return Invalid(where, absl::StrCat("tensor '", e.name, "': BOOL element ", i, " is ",
                                             static_cast<int>(static_cast<unsigned char>(src[i])),
                                             ", expected 0 or 1"));
        }
      }
    }
    Tensor t = Tensor::Empty(e.shape, e.dtype);
    if (e.end > e.begin) std::memcpy(t.raw_data(), src, static_cast<size_t>(e.end - e.begin));
    out.tensors.emplace(e.name, std::move(t));
  }
  return out;
}

absl::StatusOr<SafetensorsFile> ReadSafetensors(const std::string& path) {
  auto bytes = ReadWholeFile(path);
  if (!bytes.ok()) return bytes.status();
  return ParseSafetensors(*bytes, path);
}

absl::StatusOr<std::string> SerializeSafetensors(
    const std::map<std::string, Tensor>& tensors,
    const std::map<std::string, std::string>& metadata) {
  // Header fields in the reference writer's order: __metadata__ first, then per tensor dtype,
  // shape, data_offsets. std::map iteration gives the tensors sorted by name.
  std::string header = "{";
  if (!metadata.empty()) {
    header += "\"__metadata__\":{";
    bool first = true;
    for (const auto& [key, value] : metadata) {
      auto k = JsonString(key, absl::StrCat("metadata key '", key, "'"));
      if (!k.ok()) return k.status();
      auto v = JsonString(value, absl::StrCat("metadata value of '", key, "'"));
      if (!v.ok()) return v.status();
      absl::StrAppend(&header, first ? "" : ",", *k, ":", *v);
      first = false;
    }
    header += "},";
  }
  int64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    if (name == "__metadata__") {
      return absl::InvalidArgumentError("safetensors: '__metadata__' cannot be a tensor name");
    }
    if (!t.defined()) {
      return absl::InvalidArgumentError(
          absl::StrCat("safetensors: tensor '", name, "' is undefined"));
    }
    if (t.device().type != Device::kCPU) {
      return absl::InvalidArgumentError(absl::StrCat("safetensors: tensor '", name, "' is on ",
                                                     t.device().ToString(),
                                                     "; copy it to the CPU first"));
    }
    auto n = JsonString(name, absl::StrCat("tensor name '", name, "'"));
    if (!n.ok()) return n.status();
    const int64_t nbytes = t.numel() * DTypeSize(t.dtype());
    absl::StrAppend(&header, *n, ":{\"dtype\":\"", SafetensorsDTypeName(t.dtype()),
                    "\",\"shape\":", ShapeJson(t.shape()), ",\"data_offsets\":[", offset, ",",
                    offset + nbytes, "]},");
    offset += nbytes;
  }
  if (header.back() == ',') header.pop_back();
  header += "}";
  // Spaces after the JSON are valid JSON whitespace; they put the data section on an 8-byte
  // boundary so a reader can map the file and view f64 / i64 tensors in place.
  header.append((8 - header.size() % 8) % 8, ' ');

  std::string out;
  out.reserve(8 + header.size() + static_cast<size_t>(offset));
  uint64_t header_len = header.size();
  out.append(reinterpret_cast<const char*>(&header_len), 8);
  out += header;
  for (const auto& [name, t] : tensors) AppendContiguousBytes(t, &out);
  return out;
}

absl::Status WriteSafetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                              const std::map<std::string, std::string>& metadata) {
  auto bytes = SerializeSafetensors(tensors, metadata);
  if (!bytes.ok()) {
    return absl::Status(bytes.status().code(), absl::StrCat(path, ": ", bytes.status().message()));
  }
  return WriteFileAtomic(path, *bytes);
}

}  // namespace kiln::io
