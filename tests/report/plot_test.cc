// Tests for the SVG plot writer (well-formed XML, ticks, log spacing, bands, NaN breaks, escaping,
// determinism, histogram counts) and the Markdown table writer. The SVG is checked in process by a
// small XML well-formedness checker, and also by Python's minidom when python3 is installed.
#include "report/plot.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <regex>
#include <string>
#include <vector>

#include "base/check.h"
#include "base/file.h"
#include "report/table.h"

namespace kiln::report {
namespace {

constexpr double kNan = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// Checks XML well-formedness: one root element, balanced and properly nested tags, quoted
// attributes, only the five predefined entities (or numeric ones), no stray '<' or '&'. Returns
// an empty string when well-formed, else what is wrong.
std::string XmlProblem(const std::string& s) {
  std::vector<std::string> stack;
  int roots = 0;
  auto check_entities = [](const std::string& text) -> bool {
    static const std::regex kEntity("^&(amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);");
    for (size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '<') return false;
      if (text[i] == '&' && !std::regex_search(text.substr(i, 12), kEntity)) return false;
    }
    return true;
  };
  size_t i = 0;
  while (i < s.size()) {
    size_t lt = s.find('<', i);
    std::string text = s.substr(i, lt == std::string::npos ? std::string::npos : lt - i);
    if (!check_entities(text)) return "bad text: " + text;
    if (stack.empty() && text.find_first_not_of(" \t\r\n") != std::string::npos) {
      return "text outside the root: " + text;
    }
    if (lt == std::string::npos) break;
    if (s.compare(lt, 4, "<!--") == 0) {
      size_t end = s.find("-->", lt);
      if (end == std::string::npos) return "unclosed comment";
      i = end + 3;
      continue;
    }
    if (s.compare(lt, 2, "<?") == 0) {
      size_t end = s.find("?>", lt);
      if (end == std::string::npos) return "unclosed processing instruction";
      i = end + 2;
      continue;
    }
    // Scan the tag to its '>', honouring quoted attribute values.
    size_t j = lt + 1;
    char quote = 0;
    for (; j < s.size(); ++j) {
      if (quote) {
        if (s[j] == quote)
          quote = 0;
        else if (s[j] == '<')
          return "'<' in an attribute value";
      } else if (s[j] == '"' || s[j] == '\'') {
        quote = s[j];
      } else if (s[j] == '>') {
        break;
      }
    }
    if (j >= s.size()) return "unclosed tag at " + std::to_string(lt);
    std::string tag = s.substr(lt + 1, j - lt - 1);
    i = j + 1;
    static const std::regex kOpen(
        R"(^([A-Za-z_][\w:.-]*)(\s+[A-Za-z_][\w:.-]*\s*=\s*("[^"]*"|'[^']*'))*\s*(/?)$)");
    static const std::regex kClose(R"(^/([A-Za-z_][\w:.-]*)\s*$)");
    std::smatch m;
    if (std::regex_match(tag, m, kClose)) {
      if (stack.empty() || stack.back() != m[1]) return "mismatched </" + m[1].str() + ">";
      stack.pop_back();
    } else if (std::regex_match(tag, m, kOpen)) {
      // Attribute values must have valid entities too.
      static const std::regex kValue(R"("([^"]*)\"|'([^']*)')");
      for (std::sregex_iterator it(tag.begin(), tag.end(), kValue), end; it != end; ++it) {
        if (!check_entities((*it)[1].str() + (*it)[2].str())) return "bad attribute in " + tag;
      }
      if (stack.empty() && ++roots > 1) return "more than one root element";
      if (m[4].str().empty()) stack.push_back(m[1]);
    } else {
      return "malformed tag <" + tag + ">";
    }
  }
  if (!stack.empty()) return "unclosed <" + stack.back() + ">";
  if (roots != 1) return "no root element";
  return "";
}

// Also parses the files with Python's minidom when python3 is there (CI installs it), in one
// process since Python's start-up dominates. True when all parse or python3 is missing.
bool PythonParses(const std::vector<std::pair<std::string, std::string>>& named_svgs) {
  if (std::system("command -v python3 > /dev/null 2>&1") != 0) return true;
  std::string cmd =
      "python3 -c \"import xml.dom.minidom,sys; [xml.dom.minidom.parse(p) for p in sys.argv[1:]]\"";
  std::vector<std::string> paths;
  for (const auto& [name, svg] : named_svgs) {
    paths.push_back(
        (std::filesystem::temp_directory_path() / ("kiln_report_test_" + name + ".svg")).string());
    EXPECT_TRUE(WriteSvg(paths.back(), svg).ok());
    cmd += " " + paths.back();
  }
  bool ok = std::system(cmd.c_str()) == 0;
  for (const std::string& path : paths) std::filesystem::remove(path);
  return ok;
}

size_t Count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

struct TickLabel {
  double pos;  // x for tick-x labels, y for tick-y labels
  std::string text;
};

std::vector<TickLabel> TickLabels(const std::string& svg, const std::string& cls) {
  std::regex re("<text x=\"([-0-9.]+)\" y=\"([-0-9.]+)\" class=\"" + cls +
                "\"[^>]*>([^<]*)</text>");
  std::vector<TickLabel> out;
  for (std::sregex_iterator it(svg.begin(), svg.end(), re), end; it != end; ++it) {
    double pos = std::stod((*it)[cls == "tick-x" ? 1 : 2].str());
    out.push_back({pos, (*it)[3].str()});
  }
  return out;
}

const TickLabel* FindLabel(const std::vector<TickLabel>& labels, const std::string& text) {
  for (const TickLabel& l : labels) {
    if (l.text == text) return &l;
  }
  return nullptr;
}

Series Curve(const std::string& label, int n, double x0 = 1) {
  Series s;
  s.label = label;
  for (int i = 0; i < n; ++i) {
    s.x.push_back(x0 + i);
    s.y.push_back(std::sin(0.3 * i) + 2);
  }
  return s;
}

TEST(PlotTest, XmlCheckerCatchesMistakes) {
  EXPECT_EQ(XmlProblem("<a><b/></a>"), "");
  EXPECT_NE(XmlProblem("<a><b></a>"), "");
  EXPECT_NE(XmlProblem("<a>x < y</a>"), "");
  EXPECT_NE(XmlProblem("<a>R&D</a>"), "");
  EXPECT_NE(XmlProblem("<a t=\"1\"></a><b/>"), "");
  EXPECT_NE(XmlProblem("<a t=1></a>"), "");
}

TEST(PlotTest, WellFormedForManyShapes) {
  Series band = Curve("band", 20);
  for (size_t i = 0; i < band.x.size(); ++i) {
    band.lo.push_back(band.y[i] - 0.2);
    band.hi.push_back(band.y[i] + 0.3);
  }
  Series dashed = Curve("dashed & <marked>", 10);
  dashed.dashed = dashed.markers = true;
  std::string nasty = "t\x01itle \xff\xfe <&> \"q\" 'a' \xc3\xa9";  // control + invalid UTF-8
  std::vector<std::pair<std::string, std::string>> svgs = {
      {"line", LinePlotSvg({band, dashed}, {.title = nasty, .x_label = "step", .y_label = "y"})},
      {"logx", LinePlotSvg({band}, {.log_x = true})},
      {"logy", LinePlotSvg({band}, {.log_y = true})},
      {"empty", LinePlotSvg({}, {.title = "nothing"})},
      {"hist", HistogramSvg({1, 2, 2, 3, 3, 3, kNan}, 3, {.title = nasty})},
      {"hist_empty", HistogramSvg({}, 5, {})},
  };
  for (const auto& [name, svg] : svgs) {
    EXPECT_EQ(XmlProblem(svg), "") << name << "\n" << svg;
    EXPECT_EQ(svg.find("nan"), std::string::npos) << name;
    EXPECT_EQ(svg.find("inf"), std::string::npos) << name;
  }
  EXPECT_TRUE(PythonParses(svgs));
}

TEST(PlotTest, TitleLabelsAndLegendAppear) {
  std::string svg = LinePlotSvg({Curve("train loss", 5), Curve("eval loss", 5), Curve("", 5)},
                                {.title = "Loss", .x_label = "step", .y_label = "nats"});
  EXPECT_NE(svg.find(">Loss</text>"), std::string::npos);
  EXPECT_NE(svg.find(">step</text>"), std::string::npos);
  EXPECT_NE(svg.find(">nats</text>"), std::string::npos);
  EXPECT_NE(svg.find("class=\"legend\" fill=\"#333\">train loss</text>"), std::string::npos);
  EXPECT_NE(svg.find("class=\"legend\" fill=\"#333\">eval loss</text>"), std::string::npos);
  EXPECT_EQ(Count(svg, "class=\"legend\" fill="), 2u);  // the unlabelled series is not listed
  EXPECT_EQ(Count(svg, "<polyline"), 3u);
  EXPECT_FALSE(TickLabels(svg, "tick-x").empty());
  EXPECT_FALSE(TickLabels(svg, "tick-y").empty());
}

TEST(PlotTest, LinearTicksAreOneTwoFiveSteps) {
  for (double scale : {1e-7, 0.3, 1.0, 7.0, 1234.0, 3e9}) {
    Series s{.x = {0, 10 * scale}, .y = {-2 * scale, 5 * scale}};
    std::string svg = LinePlotSvg({s}, {});
    for (const char* cls : {"tick-x", "tick-y"}) {
      auto labels = TickLabels(svg, cls);
      ASSERT_GE(labels.size(), 3u) << cls << " " << scale;
      // Equal pixel spacing between consecutive ticks.
      double d = labels[1].pos - labels[0].pos;
      for (size_t i = 1; i < labels.size(); ++i) {
        EXPECT_NEAR(labels[i].pos - labels[i - 1].pos, d, 0.02) << cls << " " << scale;
      }
      // The step between labelled values is 1, 2 or 5 times a power of ten.
      double step = std::stod(labels[1].text) - std::stod(labels[0].text);
      double mant = std::fabs(step) / std::pow(10.0, std::floor(std::log10(std::fabs(step))));
      EXPECT_TRUE(std::fabs(mant - 1) < 1e-6 || std::fabs(mant - 2) < 1e-6 ||
                  std::fabs(mant - 5) < 1e-6 || std::fabs(mant - 10) < 1e-6)
          << cls << " " << scale << " step " << step;
    }
  }
}

TEST(PlotTest, LogXPlacesDecadesEquallySpaced) {
  Series s{.label = "acc"};
  for (double x = 10; x <= 1000; x *= 1.25) {
    s.x.push_back(x);
    s.y.push_back(std::log(x));
  }
  std::string svg = LinePlotSvg({s}, {.log_x = true});
  auto labels = TickLabels(svg, "tick-x");
  const TickLabel* a = FindLabel(labels, "10");
  const TickLabel* b = FindLabel(labels, "100");
  const TickLabel* c = FindLabel(labels, "1000");
  ASSERT_TRUE(a && b && c) << svg;
  EXPECT_GT(b->pos - a->pos, 50);
  EXPECT_NEAR(b->pos - a->pos, c->pos - b->pos, 0.02);
  // Minor gridlines (2..9 x 10^k) are drawn for a few decades.
  EXPECT_NE(svg.find("stroke=\"#f0f0f0\""), std::string::npos);
}

TEST(PlotTest, LogAxesSkipNonPositiveValues) {
  Series s{.x = {0, 1, 10, 100, 1000}, .y = {5, -1, 2, 3, 4}};
  std::string svg = LinePlotSvg({s}, {.log_x = true, .log_y = true});
  EXPECT_EQ(XmlProblem(svg), "");
  // x=0 and y=-1 are skipped; the remaining three points form one line.
  std::smatch m;
  ASSERT_TRUE(std::regex_search(svg, m, std::regex("<polyline points=\"([^\"]*)\"")));
  EXPECT_EQ(Count(m[1].str(), ","), 3u);
  EXPECT_EQ(Count(svg, "<polyline"), 1u);
}

TEST(PlotTest, WideLogRangeThinsDecadeLabels) {
  Series s{.x = {1e-12, 1e12}, .y = {1, 2}};
  auto labels = TickLabels(LinePlotSvg({s}, {.log_x = true, .width = 400}), "tick-x");
  ASSERT_GE(labels.size(), 2u);
  EXPECT_LT(labels.size(), 8u);
  for (size_t i = 1; i < labels.size(); ++i) EXPECT_GT(labels[i].pos - labels[i - 1].pos, 40);
}

TEST(PlotTest, BandProducesPolygon) {
  Series s = Curve("mean over seeds", 6);
  for (double y : s.y) {
    s.lo.push_back(y - 0.1);
    s.hi.push_back(y + 0.1);
  }
  std::string svg = LinePlotSvg({s}, {});
  EXPECT_EQ(Count(svg, "<polygon class=\"band\""), 1u);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(svg, m, std::regex("<polygon class=\"band\" points=\"([^\"]*)\"")));
  EXPECT_EQ(Count(m[1].str(), ","), 12u);  // lo forward, hi back
  // A NaN in the band splits it in two; the line stays whole.
  s.lo[3] = kNan;
  svg = LinePlotSvg({s}, {});
  EXPECT_EQ(Count(svg, "<polygon class=\"band\""), 2u);
  EXPECT_EQ(Count(svg, "<polyline"), 1u);
}

TEST(PlotTest, NanBreaksLineAndInfinityIsSkipped) {
  Series s = Curve("", 8);
  s.y[3] = kNan;
  std::string svg = LinePlotSvg({s}, {});
  EXPECT_EQ(Count(svg, "<polyline"), 2u);
  s.y[3] = kInf;
  s.x[5] = -kInf;
  svg = LinePlotSvg({s}, {});
  EXPECT_EQ(Count(svg, "<polyline"), 1u);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(svg, m, std::regex("<polyline points=\"([^\"]*)\"")));
  EXPECT_EQ(Count(m[1].str(), ","), 6u);
  // A point isolated by NaNs on both sides is drawn as a dot.
  Series lone{.x = {1, 2, 3, 4}, .y = {1, kNan, 3, kNan}};
  svg = LinePlotSvg({lone}, {});
  EXPECT_EQ(Count(svg, "<polyline"), 0u);
  EXPECT_EQ(Count(svg, "<circle"), 2u);
}

TEST(PlotTest, EscapesText) {
  Series s = Curve("a<b & \"c\" 'd'>", 3);
  std::string svg = LinePlotSvg({s}, {.title = "R&D <x>", .x_label = "\"q\""});
  EXPECT_NE(svg.find("R&amp;D &lt;x&gt;"), std::string::npos);
  EXPECT_NE(svg.find("&quot;q&quot;"), std::string::npos);
  EXPECT_NE(svg.find("a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;"), std::string::npos);
  EXPECT_EQ(svg.find("R&D"), std::string::npos);
  EXPECT_EQ(XmlEscape("x\x02y\xc3\xa9\xff"), "xy\xc3\xa9\xef\xbf\xbd");
  // A color is an attribute value and is escaped as well.
  s.color = "\"><script>";
  EXPECT_EQ(XmlProblem(LinePlotSvg({s}, {})), "");
}

TEST(PlotTest, SameInputSameBytes) {
  Series a = Curve("a", 50), b = Curve("b", 30, 5);
  b.dashed = true;
  PlotOptions o{.title = "t", .log_x = true};
  std::string first = LinePlotSvg({a, b}, o);
  EXPECT_EQ(first, LinePlotSvg({a, b}, o));
  EXPECT_EQ(HistogramSvg(a.y, 7, o), HistogramSvg(a.y, 7, o));
  // Different data gives a different clip-path id, so several plots can share one HTML page.
  b.y[0] += 1;
  std::regex id("clipPath id=\"([^\"]+)\"");
  std::smatch m1, m2;
  std::string second = LinePlotSvg({a, b}, o);
  ASSERT_TRUE(std::regex_search(first, m1, id));
  ASSERT_TRUE(std::regex_search(second, m2, id));
  EXPECT_NE(m1[1].str(), m2[1].str());
}

TEST(PlotTest, PaletteAndExplicitColors) {
  Series a = Curve("a", 3), b = Curve("b", 3), c = Curve("c", 3);
  b.color = "#123456";
  std::string svg = LinePlotSvg({a, b, c}, {});
  EXPECT_NE(svg.find("stroke=\"#1f77b4\""), std::string::npos);
  EXPECT_NE(svg.find("stroke=\"#123456\""), std::string::npos);
  EXPECT_NE(svg.find("stroke=\"#ff7f0e\""), std::string::npos);  // c takes the next palette color
}

TEST(PlotTest, EmptySinglePointAndFlatSeries) {
  std::string empty = LinePlotSvg({}, {.title = "empty"});
  EXPECT_NE(empty.find(">no data</text>"), std::string::npos);
  EXPECT_GE(TickLabels(empty, "tick-x").size(), 2u);
  EXPECT_GE(TickLabels(empty, "tick-y").size(), 2u);
  // A series whose points are all unusable also counts as no data.
  Series bad{.x = {1, 2}, .y = {kNan, kInf}};
  EXPECT_NE(LinePlotSvg({bad}, {}).find("no data"), std::string::npos);

  Series one{.x = {3}, .y = {7}};
  std::string svg = LinePlotSvg({one}, {});
  EXPECT_EQ(Count(svg, "<circle"), 1u);
  EXPECT_GE(TickLabels(svg, "tick-x").size(), 2u);
  EXPECT_EQ(svg.find("no data"), std::string::npos);

  for (double v : {0.0, 5.0, -1e-9, 1e12}) {
    Series flat{.x = {1, 2, 3}, .y = {v, v, v}};
    auto ys = TickLabels(LinePlotSvg({flat}, {}), "tick-y");
    ASSERT_GE(ys.size(), 2u) << v;
    // The value sits strictly inside the padded range: some tick above it, some below.
    EXPECT_LT(std::stod(ys.front().text), v) << v;
    EXPECT_GT(std::stod(ys.back().text), v) << v;
  }
}

TEST(PlotTest, ExtremeRangesStayFiniteAndFast) {
  std::vector<Series> cases = {
      {.x = {1, 2}, .y = {1, 1 + 1e-15}},            // below double resolution of the span
      {.x = {-1e308, 1e308}, .y = {-1e308, 1e308}},  // span overflows a double
      {.x = {1e-320, 1e-300}, .y = {5e-324, 1}},     // subnormals
      {.x = {0, 1}, .y = {1e20, 1e20}},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    for (bool log : {false, true}) {
      std::string svg = LinePlotSvg({cases[i]}, {.log_x = log, .log_y = log});
      EXPECT_EQ(XmlProblem(svg), "") << i << " " << log;
      EXPECT_EQ(svg.find("nan"), std::string::npos) << i << " " << log;
      EXPECT_EQ(svg.find("inf"), std::string::npos) << i << " " << log;
      EXPECT_GE(TickLabels(svg, "tick-y").size(), 2u) << i << " " << log;
    }
    std::string hist = HistogramSvg(cases[i].y, 5, {});
    EXPECT_EQ(hist.find("nan"), std::string::npos) << i;
  }
}

TEST(PlotTest, ExplicitRangeClipsAndSetsAutoY) {
  Series s{.x = {0, 1, 2, 3, 100}, .y = {1, 2, 3, 4, 1000}};
  std::string svg = LinePlotSvg({s}, {.x_min = 0.0, .x_max = 3.0});
  auto xs = TickLabels(svg, "tick-x");
  auto ys = TickLabels(svg, "tick-y");
  ASSERT_FALSE(xs.empty());
  ASSERT_FALSE(ys.empty());
  EXPECT_EQ(std::stod(xs.front().text), 0);
  EXPECT_EQ(std::stod(xs.back().text), 3);
  EXPECT_LE(std::stod(ys.back().text), 5);  // the y=1000 point outside [0, 3] does not count
  EXPECT_NE(svg.find("clip-path=\"url(#kiln-clip-"), std::string::npos);
  // Explicit y bounds are used as given.
  ys = TickLabels(LinePlotSvg({s}, {.y_min = -10.0, .y_max = 10.0}), "tick-y");
  EXPECT_EQ(ys.front().text, "-10");
  EXPECT_EQ(ys.back().text, "10");
}

TEST(PlotTest, MismatchedLengthsThrow) {
  Series s{.x = {1, 2}, .y = {1}};
  EXPECT_THROW(LinePlotSvg({s}, {}), Error);
  Series b{.x = {1, 2}, .y = {1, 2}, .lo = {0, 1}};
  EXPECT_THROW(LinePlotSvg({b}, {}), Error);
  EXPECT_THROW(HistogramSvg({1, 2}, 0, {}), Error);
}

int64_t SumCounts(const std::string& svg, int* bars) {
  std::regex re("data-count=\"([0-9]+)\"");
  int64_t sum = 0;
  *bars = 0;
  for (std::sregex_iterator it(svg.begin(), svg.end(), re), end; it != end; ++it) {
    sum += std::stoll((*it)[1].str());
    ++*bars;
  }
  return sum;
}

TEST(PlotTest, HistogramCountsSumToValues) {
  std::vector<double> values;
  for (int i = 0; i < 1000; ++i) values.push_back(std::sin(i * 0.7) * std::sqrt(i));
  int bars = 0;
  std::string svg = HistogramSvg(values, 17, {.title = "h", .x_label = "v", .y_label = "count"});
  EXPECT_EQ(SumCounts(svg, &bars), 1000);
  EXPECT_EQ(bars, 17);
  EXPECT_NE(svg.find("n = 1000"), std::string::npos);
  // Non-finite values and values outside an explicit range are dropped, and the subtitle says so.
  values.push_back(kNan);
  values.push_back(kInf);
  svg = HistogramSvg(values, 10, {.x_min = -5.0, .x_max = 5.0});
  int64_t in_range = 0;
  for (double v : values) in_range += std::isfinite(v) && v >= -5 && v <= 5;
  EXPECT_EQ(SumCounts(svg, &bars), in_range);
  EXPECT_NE(svg.find("dropped"), std::string::npos);
  // All-equal values land in one bin; log_y draws no bar for empty bins.
  svg = HistogramSvg({2, 2, 2}, 4, {.log_y = true});
  EXPECT_EQ(SumCounts(svg, &bars), 3);
  EXPECT_EQ(bars, 1);
  EXPECT_EQ(XmlProblem(svg), "");
}

TEST(PlotTest, WriteSvgWritesTheFile) {
  std::string path =
      (std::filesystem::temp_directory_path() / "kiln_report_test_write.svg").string();
  std::string svg = LinePlotSvg({Curve("x", 4)}, {});
  ASSERT_TRUE(WriteSvg(path, svg).ok());
  auto read = ReadFile(path);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(*read, svg);
  std::filesystem::remove(path);
  EXPECT_FALSE(WriteSvg("/nonexistent-dir/x.svg", svg).ok());
}

TEST(TableTest, PadsAndAlignsColumns) {
  std::string t =
      MarkdownTable({"model", "acc", "note"},
                    {{"gpt2-small", "0.51", "ok|fine"}, {"tiny", "12.5"}, {"é", "-3", "x"}});
  EXPECT_EQ(t,
            "| model      |  acc | note     |\n"
            "| ---------- | ---: | -------- |\n"
            "| gpt2-small | 0.51 | ok\\|fine |\n"
            "| tiny       | 12.5 |          |\n"
            "| é          |   -3 | x        |\n");
  EXPECT_EQ(MarkdownTable({}, {}), "");
  // Rows longer than the header widen the table.
  EXPECT_EQ(MarkdownTable({"a"}, {{"1", "two\nlines"}}),
            "|    a |           |\n"
            "| ---: | --------- |\n"
            "|    1 | two lines |\n");
}

}  // namespace
}  // namespace kiln::report
