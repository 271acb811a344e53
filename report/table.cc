// Markdown table writer: escape cells, pad every column to its widest cell (in code points), and
// right-align columns that hold only numbers so digits line up in the raw text as well.
#include "report/table.h"

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

namespace kiln::report {
namespace {

size_t CodePoints(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

std::string EscapeCell(const std::string& cell) {
  std::string out;
  for (char c : cell) {
    if (c == '|') {
      out += "\\|";
    } else if (c == '\n' || c == '\r') {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

// "12", "-3.5", "1e-4", "0.25%", "+7" count as numbers; "nan"/"inf" do too (metrics print them).
bool LooksNumeric(const std::string& s) {
  if (s.empty()) return false;
  std::string t = s.back() == '%' ? s.substr(0, s.size() - 1) : s;
  if (t.empty() || t.find_first_of(" \t") != std::string::npos) return false;
  char* end = nullptr;
  std::strtod(t.c_str(), &end);
  return end != t.c_str() && *end == '\0';
}

std::string Pad(const std::string& s, size_t width, bool right) {
  std::string fill(width - std::min(width, CodePoints(s)), ' ');
  return right ? fill + s : s + fill;
}

}  // namespace

std::string MarkdownTable(const std::vector<std::string>& header,
                          const std::vector<std::vector<std::string>>& rows) {
  size_t cols = header.size();
  for (const auto& row : rows) cols = std::max(cols, row.size());
  if (cols == 0) return "";
  auto cell = [&](const std::vector<std::string>& row, size_t c) {
    return c < row.size() ? EscapeCell(row[c]) : std::string();
  };
  std::vector<size_t> width(cols, 3);  // "---" is the shortest separator
  std::vector<bool> numeric(cols, true);
  std::vector<bool> any(cols, false);
  for (size_t c = 0; c < cols; ++c) width[c] = std::max(width[c], CodePoints(cell(header, c)));
  for (const auto& row : rows) {
    for (size_t c = 0; c < cols; ++c) {
      std::string v = cell(row, c);
      width[c] = std::max(width[c], CodePoints(v));
      if (v.empty()) continue;
      any[c] = true;
      if (!LooksNumeric(v)) numeric[c] = false;
    }
  }
  std::vector<bool> right(cols);
  for (size_t c = 0; c < cols; ++c) {
    right[c] = any[c] && numeric[c];
    if (right[c]) width[c] = std::max<size_t>(width[c], 4);  // room for "---:"
  }
  std::string out;
  auto emit_row = [&](const std::vector<std::string>& row) {
    out += "|";
    for (size_t c = 0; c < cols; ++c) out += " " + Pad(cell(row, c), width[c], right[c]) + " |";
    out += "\n";
  };
  emit_row(header);
  out += "|";
  for (size_t c = 0; c < cols; ++c) {
    out +=
        " " + (right[c] ? std::string(width[c] - 1, '-') + ":" : std::string(width[c], '-')) + " |";
  }
  out += "\n";
  for (const auto& row : rows) emit_row(row);
  return out;
}

}  // namespace kiln::report
