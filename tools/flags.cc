#include "tools/flags.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace kiln::tools {

FlagSet::FlagSet(std::string command, std::string summary)
    : command_(std::move(command)), summary_(std::move(summary)) {}

void FlagSet::String(const std::string& name, std::string* target, const std::string& help) {
  flags_.push_back({name, help, "string", "\"" + *target + "\"",
                    [target](const std::string& v) {
                      *target = v;
                      return absl::OkStatus();
                    }});
}

void FlagSet::Int(const std::string& name, int64_t* target, const std::string& help) {
  flags_.push_back({name, help, "int", absl::StrCat(*target),
                    [target, name](const std::string& v) {
                      int64_t x;
                      if (!absl::SimpleAtoi(v, &x)) {
                        return absl::InvalidArgumentError(
                            absl::StrCat("--", name, ": expected an integer, got '", v, "'"));
                      }
                      *target = x;
                      return absl::OkStatus();
                    }});
}

void FlagSet::Double(const std::string& name, double* target, const std::string& help) {
  flags_.push_back({name, help, "float", absl::StrCat(*target),
                    [target, name](const std::string& v) {
                      double x;
                      if (!absl::SimpleAtod(v, &x)) {
                        return absl::InvalidArgumentError(
                            absl::StrCat("--", name, ": expected a number, got '", v, "'"));
                      }
                      *target = x;
                      return absl::OkStatus();
                    }});
}

void FlagSet::Bool(const std::string& name, bool* target, const std::string& help) {
  Flag f{name, help, "bool", *target ? "true" : "false",
         [target, name](const std::string& v) {
           bool x;
           if (!absl::SimpleAtob(v, &x)) {
             return absl::InvalidArgumentError(
                 absl::StrCat("--", name, ": expected true or false, got '", v, "'"));
           }
           *target = x;
           return absl::OkStatus();
         }};
  f.is_bool = true;
  flags_.push_back(std::move(f));
}

FlagSet::Flag* FlagSet::Find(const std::string& name) {
  for (auto& f : flags_) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

bool FlagSet::WasSet(const std::string& name) const {
  for (const auto& f : flags_) {
    if (f.name == name) return f.was_set;
  }
  return false;
}

absl::Status FlagSet::Parse(const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      help_ = true;
      continue;
    }
    if (a.size() < 3 || a.compare(0, 2, "--") != 0) {
      if (!a.empty() && a[0] == '-' && a != "-") {
        return absl::InvalidArgumentError(absl::StrCat("unknown flag '", a, "' (flags look like --name=value)"));
      }
      positional_.push_back(a);
      continue;
    }
    std::string body = a.substr(2), name = body, value;
    bool has_value = false;
    if (auto eq = body.find('='); eq != std::string::npos) {
      name = body.substr(0, eq);
      value = body.substr(eq + 1);
      has_value = true;
    }
    // Flags may be written with '-' or '_' (--save-steps, --save_steps).
    for (auto& c : name) {
      if (c == '-') c = '_';
    }
    Flag* f = Find(name);
    if (!f && !has_value && name.rfind("no", 0) == 0) {
      Flag* b = Find(name.substr(2));
      if (b && b->is_bool) {
        b->was_set = true;
        if (auto s = b->set("false"); !s.ok()) return s;
        continue;
      }
    }
    if (!f) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown flag '--", body.substr(0, body.find('=')), "' for 'kiln ", command_,
                       "' (see kiln ", command_, " --help)"));
    }
    if (!has_value) {
      if (f->is_bool) {
        value = "true";
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        return absl::InvalidArgumentError(absl::StrCat("--", f->name, ": missing value"));
      }
    }
    f->was_set = true;
    if (auto s = f->set(value); !s.ok()) return s;
  }
  return absl::OkStatus();
}

std::string FlagSet::Usage() const {
  std::string out = absl::StrCat("usage: kiln ", command_, " [flags]\n\n", summary_, "\n\nflags:\n");
  for (const auto& f : flags_) {
    std::string name = f.name;
    for (auto& c : name) {
      if (c == '_') c = '-';
    }
    out += absl::StrFormat("  --%-22s %s (%s, default %s)\n", name, f.help, f.type, f.default_text);
  }
  out += absl::StrFormat("  --%-22s %s\n", "help", "show this help");
  return out;
}

}  // namespace kiln::tools
