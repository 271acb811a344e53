// Markdown tables for reports and CLI summaries: columns padded to a common width so the raw text
// reads as a table too. Numeric columns are right-aligned, others left-aligned.
#pragma once

#include <string>
#include <vector>

namespace kiln::report {

// One line per row, each ending in '\n'. A column is right-aligned ("---:") when every non-empty
// cell in it parses as a number, else left-aligned. Short rows are padded with empty cells; rows
// longer than the header widen the table (the extra header cells are empty). '|' in a cell is
// escaped as "\|" and newlines become spaces. Widths count UTF-8 code points.
std::string MarkdownTable(const std::vector<std::string>& header,
                          const std::vector<std::vector<std::string>>& rows);

}  // namespace kiln::report
