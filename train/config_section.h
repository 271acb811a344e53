// The field reader behind the run configs of `kiln train` and `kiln sft`: one JSON section
// ("data", "optim", "run") read field by field with type and range checks; every message is one
// line "<where>: field '<section>.<name>'[ (set by --flag)]: <what>", and a field nobody read is
// an error (a typo would otherwise be silently ignored).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/json.h"

namespace kiln::train {


inline std::string Short(const Json& v) {
  std::string s = v.dump();
  return s.size() > 40 ? s.substr(0, 37) + "..." : s;
}

// Reads the fields of one section, checking types and ranges; every message is
// "<where>: field '<section>.<name>'[ (set by --flag)]: <what>".
class Section {
 public:
  Section(const Json& root, std::string name, std::string where,
          const std::map<std::string, std::string>& flag_of)
      : name_(std::move(name)), where_(std::move(where)), flag_of_(flag_of) {
    if (!root.contains(name_)) return;
    const Json& s = root.at(name_);
    if (!s.is_object()) {
      status_ = absl::InvalidArgumentError(
          absl::StrCat(where_, ": field '", name_, "': expected an object, got ", Short(s)));
      return;
    }
    obj_ = &s;
  }

  absl::Status Bad(const std::string& field, const std::string& what) const {
    std::string dotted = absl::StrCat(name_, ".", field);
    std::string by;
    if (auto it = flag_of_.find(dotted); it != flag_of_.end()) by = " (set by " + it->second + ")";
    return absl::InvalidArgumentError(
        absl::StrCat(where_, ": field '", dotted, "'", by, ": ", what));
  }

  // The value of `field` when present (and not yet failed).
  const Json* Get(const std::string& field) {
    seen_.insert(field);
    if (!status_.ok() || obj_ == nullptr || !obj_->contains(field)) return nullptr;
    return &obj_->at(field);
  }
  void Fail(absl::Status s) {
    if (status_.ok()) status_ = std::move(s);
  }

  void Int(const std::string& field, int64_t* out, int64_t min, int64_t max = INT64_MAX) {
    const Json* v = Get(field);
    if (v == nullptr) return;
    if (!v->is_number_integer()) return Fail(Bad(field, "expected an integer, got " + Short(*v)));
    int64_t x = v->is_number_unsigned() && v->get<uint64_t>() > INT64_MAX ? INT64_MAX
                                                                             : v->get<int64_t>();
    if (x < min || x > max) {
      std::string range = max == INT64_MAX ? absl::StrCat(">= ", min)
                                           : absl::StrCat("in [", min, ", ", max, "]");
      return Fail(Bad(field, absl::StrCat("must be ", range, ", got ", Short(*v))));
    }
    *out = x;
  }
  // min_open: x must be > min (else >= min).
  void Double(const std::string& field, double* out, double min, bool min_open = false,
              double max = INFINITY, bool max_open = false) {
    const Json* v = Get(field);
    if (v == nullptr) return;
    if (!v->is_number()) return Fail(Bad(field, "expected a number, got " + Short(*v)));
    double x = v->get<double>();
    bool ok = std::isfinite(x) && (min_open ? x > min : x >= min) &&
              (max_open ? x < max : x <= max);
    if (!ok) {
      std::string range = absl::StrCat(min_open ? "> " : ">= ", min);
      if (std::isfinite(max)) absl::StrAppend(&range, " and ", max_open ? "< " : "<= ", max);
      return Fail(Bad(field, absl::StrCat("must be ", range, ", got ", Short(*v))));
    }
    *out = x;
  }
  void Bool(const std::string& field, bool* out) {
    const Json* v = Get(field);
    if (v == nullptr) return;
    if (!v->is_boolean()) return Fail(Bad(field, "expected true or false, got " + Short(*v)));
    *out = v->get<bool>();
  }
  void String(const std::string& field, std::string* out,
              const std::vector<std::string>& allowed = {}) {
    const Json* v = Get(field);
    if (v == nullptr) return;
    if (!v->is_string()) return Fail(Bad(field, "expected a string, got " + Short(*v)));
    std::string s = v->get<std::string>();
    if (s.empty()) return Fail(Bad(field, "must not be empty"));
    if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), s) == allowed.end()) {
      return Fail(Bad(field, absl::StrCat("expected one of ", absl::StrJoin(allowed, ", "),
                                          ", got ", Short(*v))));
    }
    *out = s;
  }
  // A list of strings; a single string is a list of one.
  void Strings(const std::string& field, std::vector<std::string>* out) {
    const Json* v = Get(field);
    if (v == nullptr) return;
    std::vector<std::string> list;
    if (v->is_string()) {
      list.push_back(v->get<std::string>());
    } else if (v->is_array()) {
      for (const Json& e : *v) {
        if (!e.is_string()) {
          return Fail(Bad(field, "expected a list of file names, got an element " + Short(e)));
        }
        list.push_back(e.get<std::string>());
      }
    } else {
      return Fail(Bad(field, "expected a file name or a list of them, got " + Short(*v)));
    }
    for (const auto& s : list) {
      if (s.empty()) return Fail(Bad(field, "an empty file name"));
    }
    *out = list;
  }

  // Unknown fields are errors; returns the first error of this section.
  absl::Status Finish() {
    if (status_.ok() && obj_ != nullptr) {
      for (const auto& [k, v] : obj_->items()) {
        if (!seen_.count(k)) {
          return absl::InvalidArgumentError(absl::StrCat(
              where_, ": unknown field '", name_, ".", k, "' (known: ",
              absl::StrJoin(std::vector<std::string>(seen_.begin(), seen_.end()), ", "), ")"));
        }
      }
    }
    return status_;
  }

 private:
  std::string name_, where_;
  const std::map<std::string, std::string>& flag_of_;
  const Json* obj_ = nullptr;
  std::set<std::string> seen_;
  absl::Status status_;
};


}  // namespace kiln::train
