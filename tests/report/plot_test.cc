// Tests for the SVG plot writer and the Markdown table writer.
#include "report/plot.h"

#include <gtest/gtest.h>

namespace kiln::report {
namespace {

TEST(PlotTest, Smoke) {
  Series s{.label = "loss", .x = {1, 2, 3}, .y = {3, 2, 1}};
  std::string svg = LinePlotSvg({s}, {.title = "t"});
  EXPECT_NE(svg.find("loss"), std::string::npos);
}

}  // namespace
}  // namespace kiln::report
