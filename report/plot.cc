// SVG line plots and histograms, written as plain text. Layout: compute the axis ranges and ticks
// (1-2-5 steps, decades on log axes), size the margins from the tick labels and the legend, then
// emit grid, data (clipped to the plot area), axes, labels and legend. Every number goes through
// one fixed formatter and logs go through kiln's own Log, so the bytes do not depend on libm.
#include "report/plot.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "base/file.h"
#include "base/kmath.h"

namespace kiln::report {
namespace {

constexpr const char* kPalette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
constexpr int kPaletteSize = sizeof(kPalette) / sizeof(kPalette[0]);
constexpr double kTickFont = 11;   // tick labels and legend
constexpr double kLabelFont = 12;  // axis labels
constexpr double kTitleFont = 15;
constexpr double kCharEm = 0.6;  // average glyph width of a sans-serif font, in em
constexpr double kInf = std::numeric_limits<double>::infinity();

double TextWidth(const std::string& s, double font) {
  // Count UTF-8 code points, not bytes: continuation bytes are 10xxxxxx.
  int n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n * font * kCharEm;
}

// Pixel coordinates: two decimals, trailing zeros trimmed, never "-0".
std::string Num(double v) {
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%.2f", v);
  std::string s = buf;
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  if (s == "-0") s = "0";
  return s;
}

// 10^k by exact multiplication (exact up to 1e22) and one division for negative k, so results
// are correctly rounded and equal to the literal (Pow10(-3) == 0.001).
double Pow10(int k) {
  double p = 1;
  for (int i = 0; i < std::abs(k); ++i) p *= 10;
  return k < 0 ? 1 / p : p;
}

// Largest k with 10^k <= x (x > 0, finite), within a relative tolerance for rounded data.
int DecadeFloor(double x) {
  int k = 0;
  while (k > -330 && Pow10(k) > x * (1 + 1e-9)) --k;
  while (k < 310 && Pow10(k + 1) <= x * (1 + 1e-9)) ++k;
  return k;
}

double Log(double x) { return kmath::Log(x); }

// The 1-2-5 sequence ..., 0.5, 1, 2, 5, 10, ...: value m * 10^k for m in {1, 2, 5}.
double Floor125(double x) {
  int k = DecadeFloor(x);
  double d = Pow10(k);
  for (int m : {5, 2}) {
    if (m * d <= x * (1 + 1e-9)) return m * d;
  }
  return d;
}
double Ceil125(double x) {
  int k = DecadeFloor(x);
  double d = Pow10(k);
  if (d >= x * (1 - 1e-9)) return d;
  for (int m : {2, 5}) {
    if (m * d >= x * (1 - 1e-9)) return m * d;
  }
  return 10 * d;
}

// Smallest 1-2-5 step >= raw (raw > 0).
double NiceStep(double raw) { return Ceil125(raw); }
double NextStep(double step) { return Ceil125(step * 1.5); }

std::string Printf(const char* fmt, int decimals, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), fmt, decimals, v);
  std::string s = buf;
  if (s[0] == '-' && s.find_first_not_of("-0.") == std::string::npos) s.erase(0, 1);  // "-0.0"
  return s;
}

// Label for a linear tick v (a multiple of step) on an axis whose largest |value| is max_abs.
// Very large or small axes use "2.5e8"-style labels, each with only the digits it needs.
std::string FormatLinear(double v, double step, double max_abs) {
  int e_step = DecadeFloor(step);
  if (max_abs >= 1e6 || max_abs < 1e-3) {
    if (v == 0) return "0";
    int e = DecadeFloor(std::fabs(v) * (1 + 1e-9));
    std::string mant = Printf("%.*f", std::max(0, e - e_step), v / Pow10(e));
    if (mant.find('.') != std::string::npos) {
      while (mant.back() == '0') mant.pop_back();
      if (mant.back() == '.') mant.pop_back();
    }
    return absl::StrCat(mant, "e", e);
  }
  return Printf("%.*f", std::max(0, -e_step), v);
}

// Label for m * 10^k on a log axis: plain digits for moderate k, else "2e-5".
std::string FormatLog(int m, int k) {
  if (k >= -4 && k <= 5) return Printf("%.*f", std::max(0, -k), m * Pow10(k));
  return absl::StrCat(m, "e", k);
}

struct Tick {
  double value;
  std::string label;  // empty: minor tick, gridline only
};

struct Axis {
  double lo = 0, hi = 1;
  bool log = false;
  double pix_lo = 0, pix_hi = 1;  // pixel positions of lo and hi
  std::vector<Tick> ticks;

  double Map(double v) const {
    double t = log ? (Log(v) - Log(lo)) / (Log(hi) - Log(lo)) : (v - lo) / (hi - lo);
    // Clamp far-away points (clipped anyway) so renderers never see huge coordinates.
    double p = pix_lo + t * (pix_hi - pix_lo);
    return std::isnan(p) ? pix_lo : std::clamp(p, -1e5, 1e5);
  }
};

struct Extent {
  double min = kInf, max = -kInf;
  void Add(double v) {
    min = std::min(min, v);
    max = std::max(max, v);
  }
  bool empty() const { return min > max; }
};

bool Usable(double v, bool log) { return std::isfinite(v) && (!log || v > 0); }

// Resolves an axis range from the data extent and the explicit bounds. Unset sides are widened to
// nice values: multiples of the 1-2-5 step LinearTicks would pick for `target` intervals, or
// 1-2-5 values on a log axis.
void ResolveRange(Extent data, std::optional<double> lo_opt, std::optional<double> hi_opt, bool log,
                  double target, bool widen, double* lo_out, double* hi_out) {
  if (lo_opt && !Usable(*lo_opt, log)) lo_opt.reset();
  if (hi_opt && !Usable(*hi_opt, log)) hi_opt.reset();
  if (lo_opt && hi_opt && *lo_opt > *hi_opt) std::swap(lo_opt, hi_opt);
  if (data.empty()) data = log ? Extent{1, 10} : Extent{0, 1};
  double lo = lo_opt ? *lo_opt : data.min;
  double hi = hi_opt ? *hi_opt : data.max;
  // Keep spans finite and resolvable in doubles (values beyond +-1e300 end up off the plot).
  double limit_lo = log ? 1e-300 : -1e300;
  lo = std::clamp(lo, limit_lo, 1e300);
  hi = std::clamp(hi, limit_lo, 1e300);
  bool tiny =
      log ? hi <= lo * (1 + 1e-12) : hi - lo <= std::max(std::fabs(lo), std::fabs(hi)) * 1e-12;
  if (lo >= hi || tiny) {
    // One value (or an explicit bound beyond all data): pad around it, moving only unset sides.
    double v = lo_opt ? lo : hi;
    double new_lo = log ? v / 2 : v - (v != 0 ? std::fabs(v) * 0.1 : 1);
    double new_hi = log ? v * 2 : v + (v != 0 ? std::fabs(v) * 0.1 : 1);
    if (lo_opt && hi_opt) {  // (nearly) equal explicit bounds
      lo = new_lo, hi = new_hi;
    } else if (lo_opt) {
      hi = log ? lo * 2 : lo + (new_hi - v);
    } else if (hi_opt) {
      lo = log ? hi / 2 : hi - (v - new_lo);
    } else {
      lo = new_lo, hi = new_hi;
    }
  }
  if (widen) {
    if (log) {
      if (!lo_opt) lo = Floor125(lo);
      if (!hi_opt) hi = Ceil125(hi);
    } else {
      double step = NiceStep((hi - lo) / std::max(target, 1.0));
      if (!lo_opt) lo = std::floor(lo / step + 1e-9) * step;
      if (!hi_opt) hi = std::ceil(hi / step - 1e-9) * step;
    }
  }
  *lo_out = lo;
  *hi_out = hi;
}

// Do `labels` fit along an axis of `length` pixels? x: side by side; y: stacked.
bool LabelsFit(const std::vector<Tick>& ticks, double length, bool is_x) {
  int n = 0;
  double widest = 0;
  for (const Tick& t : ticks) {
    if (t.label.empty()) continue;
    ++n;
    widest = std::max(widest, TextWidth(t.label, kTickFont));
  }
  if (n <= 1) return true;
  double need = is_x ? widest + 14 : kTickFont * 2;
  return length / (n - 1) >= need * (1 + 1e-9) || length / n >= need;
}

// Minimum distance between labelled ticks, in pixels.
double MinSpacing(bool is_x) { return is_x ? 60 : 36; }

// The densest 1-2-5 step whose ticks keep MinSpacing and whose labels do not overlap.
std::vector<Tick> LinearTicks(double lo, double hi, double length, bool is_x) {
  double span = hi - lo;
  double step = NiceStep(span * MinSpacing(is_x) / std::max(length, 1.0));
  for (int tries = 0;; ++tries) {
    std::vector<Tick> ticks;
    double max_abs = std::max(std::fabs(lo), std::fabs(hi));
    double k0 = std::ceil(lo / step - 1e-9), k1 = std::floor(hi / step + 1e-9);
    if (k1 - k0 > 1000 && tries <= 20) {  // cannot happen for resolved ranges; never loop long
      step = NextStep(step);
      ++tries;
      continue;
    }
    for (double k = k0; k <= k1; ++k) {
      double v = k * step;
      ticks.push_back({v, FormatLinear(v, step, max_abs)});
    }
    if (tries > 20 || LabelsFit(ticks, length, is_x)) return ticks;
    step = NextStep(step);
  }
}

// Decade ticks (every `stride` decades), minor 2..9 gridlines when decades are few, and labelled
// 2 and 5 multiples when the axis spans less than about two decades. Falls back to linear ticks
// when fewer than two labels would show.
std::vector<Tick> LogTicks(double lo, double hi, double length, bool is_x) {
  int k_lo = DecadeFloor(lo), k_hi = DecadeFloor(hi);
  auto in_range = [&](double v) { return v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9); };
  double decades = (Log(hi) - Log(lo)) / Log(10.0);
  for (int stride = 1; stride <= 400; stride = stride < 3 ? stride + 1 : stride * 2) {
    for (bool with_125 : {true, false}) {
      if (with_125 && (stride > 1 || decades > 2.2)) continue;
      std::vector<Tick> ticks;
      for (int k = k_lo; k <= k_hi + 1; ++k) {
        for (int m = 1; m <= 9; ++m) {
          double v = m * Pow10(k);
          if (!in_range(v)) continue;
          bool labelled = m == 1 ? (k % stride == 0) : (with_125 && (m == 2 || m == 5));
          bool minor = stride == 1 && decades <= 8;
          if (labelled) {
            ticks.push_back({v, FormatLog(m, k)});
          } else if (minor) {
            ticks.push_back({v, ""});
          }
        }
      }
      int labels = 0;
      for (const Tick& t : ticks) labels += !t.label.empty();
      if (labels < 2) {
        if (with_125 || stride == 1) continue;
        break;  // wider strides only lose labels
      }
      if (LabelsFit(ticks, length, is_x)) return ticks;
    }
  }
  return LinearTicks(lo, hi, length, is_x);
}

void MakeTicks(Axis* axis, bool is_x) {
  double length = std::fabs(axis->pix_hi - axis->pix_lo);
  axis->ticks = axis->log ? LogTicks(axis->lo, axis->hi, length, is_x)
                          : LinearTicks(axis->lo, axis->hi, length, is_x);
}

// XML-escapes and also repairs invalid UTF-8 (as U+FFFD), so any input gives a well-formed file.
std::string Esc(const std::string& s) { return XmlEscape(s); }

uint64_t Fnv1a(const std::string& s, uint64_t h = 1469598103934665603ull) {
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

// The plot area in pixels, and the parts of the picture around it.
struct Frame {
  int width, height;
  double left, top, right, bottom;  // plot-area edges
  Axis x, y;
};

// Sizes the frame: fixed vertical margins first (so y ticks can be chosen for the plot height),
// then the left margin from the y tick labels and the right margin from the legend width.
Frame Layout(const PlotOptions& o, bool has_subtitle, double legend_width, Axis x, Axis y) {
  Frame f;
  f.width = std::max(200, o.width);
  f.height = std::max(150, o.height);
  f.top = (o.title.empty() ? 14 : 40) + (has_subtitle ? 16 : 0);
  f.bottom = f.height - (kTickFont + 14 + (o.x_label.empty() ? 0 : kLabelFont + 12));
  y.pix_lo = f.bottom;
  y.pix_hi = f.top;
  MakeTicks(&y, false);
  double widest = 0;
  for (const Tick& t : y.ticks) widest = std::max(widest, TextWidth(t.label, kTickFont));
  f.left = 10 + (o.y_label.empty() ? 0 : kLabelFont + 10) + widest + 8;
  f.right = f.width - (legend_width > 0 ? legend_width + 22 : 24);
  if (f.right - f.left < 60) f.right = std::min<double>(f.width - 8, f.left + 60);
  x.pix_lo = f.left;
  x.pix_hi = f.right;
  MakeTicks(&x, true);
  f.x = std::move(x);
  f.y = std::move(y);
  return f;
}

std::string Text(double x, double y, const std::string& text, const std::string& attrs) {
  return absl::StrCat("<text x=\"", Num(x), "\" y=\"", Num(y), "\" ", attrs, ">", Esc(text),
                      "</text>\n");
}

std::string Line(double x1, double y1, double x2, double y2) {
  return absl::StrCat("<line x1=\"", Num(x1), "\" y1=\"", Num(y1), "\" x2=\"", Num(x2), "\" y2=\"",
                      Num(y2), "\"/>\n");
}

// Everything except the data and the legend: background, titles, grid, axes, tick labels.
// `data` is the clipped data layer; it goes above the grid and below the axes.
std::string RenderFrame(const Frame& f, const PlotOptions& o, const std::string& subtitle,
                        const std::string& data, const std::string& legend,
                        const std::string& note) {
  std::string clip_id =
      absl::StrCat("kiln-clip-", absl::Hex(Fnv1a(data, Fnv1a(o.title)), absl::kZeroPad16));
  std::string s =
      absl::StrCat("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"", f.width, "\" height=\"",
                   f.height, "\" viewBox=\"0 0 ", f.width, " ", f.height,
                   "\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n");
  absl::StrAppend(&s, "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
  absl::StrAppend(&s, "<defs><clipPath id=\"", clip_id, "\"><rect x=\"", Num(f.left), "\" y=\"",
                  Num(f.top), "\" width=\"", Num(f.right - f.left), "\" height=\"",
                  Num(f.bottom - f.top), "\"/></clipPath></defs>\n");
  double mid_x = (f.left + f.right) / 2;
  if (!o.title.empty()) {
    absl::StrAppend(&s, Text(mid_x, 26, o.title,
                             absl::StrCat("class=\"title\" font-size=\"", kTitleFont,
                                          "\" font-weight=\"bold\" text-anchor=\"middle\"")));
  }
  if (!subtitle.empty()) {
    absl::StrAppend(&s, Text(mid_x, f.top - 8, subtitle,
                             absl::StrCat("class=\"subtitle\" font-size=\"", kTickFont,
                                          "\" fill=\"#555\" text-anchor=\"middle\"")));
  }
  // Grid: major lines darker than minor ones.
  absl::StrAppend(&s, "<g class=\"grid\" stroke-width=\"1\">\n");
  for (bool major : {false, true}) {
    absl::StrAppend(&s, "<g stroke=\"", major ? "#dddddd" : "#f0f0f0", "\">\n");
    for (const Tick& t : f.x.ticks) {
      if (t.label.empty() == major) continue;
      double px = f.x.Map(t.value);
      absl::StrAppend(&s, Line(px, f.top, px, f.bottom));
    }
    for (const Tick& t : f.y.ticks) {
      if (t.label.empty() == major) continue;
      double py = f.y.Map(t.value);
      absl::StrAppend(&s, Line(f.left, py, f.right, py));
    }
    absl::StrAppend(&s, "</g>\n");
  }
  absl::StrAppend(&s, "</g>\n");
  absl::StrAppend(&s, "<g class=\"data\" clip-path=\"url(#", clip_id, ")\">\n", data, "</g>\n");
  // Axes: a frame around the plot area and tick marks outside it.
  absl::StrAppend(&s, "<g class=\"axes\" stroke=\"#333\" stroke-width=\"1\" fill=\"none\">\n");
  absl::StrAppend(&s, "<rect x=\"", Num(f.left), "\" y=\"", Num(f.top), "\" width=\"",
                  Num(f.right - f.left), "\" height=\"", Num(f.bottom - f.top), "\"/>\n");
  for (const Tick& t : f.x.ticks) {
    double px = f.x.Map(t.value);
    absl::StrAppend(&s, Line(px, f.bottom, px, f.bottom + (t.label.empty() ? 3 : 5)));
  }
  for (const Tick& t : f.y.ticks) {
    double py = f.y.Map(t.value);
    absl::StrAppend(&s, Line(f.left - (t.label.empty() ? 3 : 5), py, f.left, py));
  }
  absl::StrAppend(&s, "</g>\n");
  absl::StrAppend(&s, "<g class=\"ticks\" font-size=\"", kTickFont, "\" fill=\"#333\">\n");
  for (const Tick& t : f.x.ticks) {
    if (t.label.empty()) continue;
    absl::StrAppend(&s, Text(f.x.Map(t.value), f.bottom + 8 + kTickFont, t.label,
                             "class=\"tick-x\" text-anchor=\"middle\""));
  }
  for (const Tick& t : f.y.ticks) {
    if (t.label.empty()) continue;
    absl::StrAppend(&s, Text(f.left - 8, f.y.Map(t.value) + kTickFont * 0.35, t.label,
                             "class=\"tick-y\" text-anchor=\"end\""));
  }
  absl::StrAppend(&s, "</g>\n");
  if (!o.x_label.empty()) {
    absl::StrAppend(&s, Text(mid_x, f.height - 8, o.x_label,
                             absl::StrCat("class=\"x-label\" font-size=\"", kLabelFont,
                                          "\" text-anchor=\"middle\"")));
  }
  if (!o.y_label.empty()) {
    double lx = 10 + kLabelFont * 0.8, ly = (f.top + f.bottom) / 2;
    absl::StrAppend(&s, Text(lx, ly, o.y_label,
                             absl::StrCat("class=\"y-label\" font-size=\"", kLabelFont,
                                          "\" text-anchor=\"middle\" transform=\"rotate(-90 ",
                                          Num(lx), " ", Num(ly), ")\"")));
  }
  if (!note.empty()) {
    absl::StrAppend(&s, Text(mid_x, (f.top + f.bottom) / 2, note,
                             absl::StrCat("class=\"note\" font-size=\"", kLabelFont,
                                          "\" fill=\"#888\" text-anchor=\"middle\"")));
  }
  absl::StrAppend(&s, legend, "</svg>\n");
  return s;
}

using Run = std::vector<std::pair<double, double>>;  // (x, y) in data units
struct BandPoint {
  double x, lo, hi;
};

// A series split into drawable runs: NaN ends a run, infinities and (on log axes) non-positive
// values are skipped.
struct Prepared {
  std::vector<Run> runs;
  std::vector<std::vector<BandPoint>> bands;
  std::string color;
  const Series* series;
};

Prepared Prepare(const Series& s, const PlotOptions& o, const std::string& color) {
  KILN_CHECK(s.x.size() == s.y.size()) << "LinePlotSvg: series '" << s.label << "' has "
                                       << s.x.size() << " x values but " << s.y.size() << " y";
  bool band = !s.lo.empty() || !s.hi.empty();
  KILN_CHECK(!band || (s.lo.size() == s.x.size() && s.hi.size() == s.x.size()))
      << "LinePlotSvg: series '" << s.label << "' band lo/hi have " << s.lo.size() << "/"
      << s.hi.size() << " values, expected " << s.x.size() << " (or both empty)";
  Prepared p;
  p.color = color;
  p.series = &s;
  p.runs.emplace_back();
  if (band) p.bands.emplace_back();
  for (size_t i = 0; i < s.x.size(); ++i) {
    double x = s.x[i], y = s.y[i];
    if (std::isnan(x) || std::isnan(y)) {
      if (!p.runs.back().empty()) p.runs.emplace_back();
    } else if (Usable(x, o.log_x) && Usable(y, o.log_y)) {
      p.runs.back().push_back({x, y});
    }
    if (!band) continue;
    double lo = s.lo[i], hi = s.hi[i];
    if (std::isnan(x) || std::isnan(lo) || std::isnan(hi)) {
      if (!p.bands.back().empty()) p.bands.emplace_back();
    } else if (Usable(x, o.log_x) && Usable(lo, o.log_y) && Usable(hi, o.log_y)) {
      p.bands.back().push_back({x, lo, hi});
    }
  }
  if (p.runs.back().empty()) p.runs.pop_back();
  if (band && p.bands.back().empty()) p.bands.pop_back();
  return p;
}

std::string Circle(double x, double y, double r, const std::string& color) {
  return absl::StrCat("<circle cx=\"", Num(x), "\" cy=\"", Num(y), "\" r=\"", Num(r), "\" fill=\"",
                      Esc(color), "\"/>\n");
}

constexpr const char* kDash = "6 4";

std::string RenderSeries(const std::vector<Prepared>& prepared, const Frame& f) {
  std::string s;
  // Bands first, so no band covers another series' line.
  for (const Prepared& p : prepared) {
    for (const auto& band : p.bands) {
      std::string pts;
      for (const BandPoint& b : band) {
        absl::StrAppend(&pts, pts.empty() ? "" : " ", Num(f.x.Map(b.x)), ",", Num(f.y.Map(b.lo)));
      }
      for (auto it = band.rbegin(); it != band.rend(); ++it) {
        absl::StrAppend(&pts, " ", Num(f.x.Map(it->x)), ",", Num(f.y.Map(it->hi)));
      }
      absl::StrAppend(&s, "<polygon class=\"band\" points=\"", pts, "\" fill=\"", Esc(p.color),
                      "\" fill-opacity=\"0.18\" stroke=\"none\"/>\n");
    }
  }
  for (const Prepared& p : prepared) {
    for (const Run& run : p.runs) {
      if (run.size() >= 2) {
        std::string pts;
        for (const auto& [x, y] : run) {
          absl::StrAppend(&pts, pts.empty() ? "" : " ", Num(f.x.Map(x)), ",", Num(f.y.Map(y)));
        }
        absl::StrAppend(&s, "<polyline points=\"", pts, "\" fill=\"none\" stroke=\"", Esc(p.color),
                        "\" stroke-width=\"1.8\" stroke-linejoin=\"round\"",
                        p.series->dashed ? absl::StrCat(" stroke-dasharray=\"", kDash, "\"") : "",
                        "/>\n");
      }
      if (p.series->markers || run.size() == 1) {
        for (const auto& [x, y] : run) {
          absl::StrAppend(&s, Circle(f.x.Map(x), f.y.Map(y), 2.6, p.color));
        }
      }
    }
  }
  return s;
}

// Legend labels are cut to keep the legend within about a third of the picture's width.
size_t MaxLegendChars(int width) {
  double room = (0.35 * std::max(200, width) - 32) / (kTickFont * kCharEm);
  return static_cast<size_t>(std::clamp(room, 8.0, 40.0));
}

std::string LegendLabel(const std::string& label, size_t max_chars) {
  std::vector<size_t> starts;  // byte offset of each code point
  for (size_t i = 0; i < label.size(); ++i) {
    if ((static_cast<unsigned char>(label[i]) & 0xC0) != 0x80) starts.push_back(i);
  }
  if (starts.size() <= max_chars) return label;
  return label.substr(0, starts[max_chars - 3]) + "...";
}

double LegendWidth(const std::vector<Prepared>& prepared, int width) {
  double widest = 0;
  for (const Prepared& p : prepared) {
    if (!p.series->label.empty()) {
      std::string label = LegendLabel(p.series->label, MaxLegendChars(width));
      widest = std::max(widest, TextWidth(label, kTickFont));
    }
  }
  return widest > 0 ? widest + 32 : 0;
}

std::string RenderLegend(const std::vector<Prepared>& prepared, const Frame& f) {
  std::string s;
  double x0 = f.right + 14, y = f.top + 10;
  for (const Prepared& p : prepared) {
    const Series& se = *p.series;
    if (se.label.empty()) continue;
    std::string color = Esc(p.color);
    if (!se.lo.empty()) {
      absl::StrAppend(&s, "<rect x=\"", Num(x0), "\" y=\"", Num(y - 6),
                      "\" width=\"22\" "
                      "height=\"12\" fill=\"",
                      color, "\" fill-opacity=\"0.18\"/>\n");
    }
    absl::StrAppend(&s, "<line x1=\"", Num(x0), "\" y1=\"", Num(y), "\" x2=\"", Num(x0 + 22),
                    "\" y2=\"", Num(y), "\" stroke=\"", color, "\" stroke-width=\"1.8\"",
                    se.dashed ? absl::StrCat(" stroke-dasharray=\"", kDash, "\"") : "", "/>\n");
    if (se.markers) absl::StrAppend(&s, Circle(x0 + 11, y, 2.6, p.color));
    std::string label = LegendLabel(se.label, MaxLegendChars(f.width));
    absl::StrAppend(&s,
                    Text(x0 + 28, y + kTickFont * 0.35, label, "class=\"legend\" fill=\"#333\""));
    y += 18;
  }
  if (s.empty()) return s;
  return absl::StrCat("<g class=\"legend\" font-size=\"", kTickFont, "\">\n", s, "</g>\n");
}

bool InRange(double v, const std::optional<double>& lo, const std::optional<double>& hi) {
  return (!lo || v >= *lo) && (!hi || v <= *hi);
}

}  // namespace

std::string XmlEscape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    unsigned char c = text[i];
    if (c < 0x80) {
      switch (c) {
        case '&':
          out += "&amp;";
          break;
        case '<':
          out += "&lt;";
          break;
        case '>':
          out += "&gt;";
          break;
        case '"':
          out += "&quot;";
          break;
        case '\'':
          out += "&apos;";
          break;
        default:
          if (c >= 0x20 || c == '\t' || c == '\n' || c == '\r') out += static_cast<char>(c);
      }
      ++i;
      continue;
    }
    // Multi-byte UTF-8: copy a valid sequence, replace an invalid byte with U+FFFD.
    int len = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c <= 0xDF ? 2 : 0;
    if (c > 0xF4) len = 0;
    bool ok = len > 0 && i + len <= text.size();
    uint32_t cp = len == 2 ? c & 0x1F : len == 3 ? c & 0x0F : c & 0x07;
    for (int k = 1; ok && k < len; ++k) {
      unsigned char cc = text[i + k];
      ok = (cc & 0xC0) == 0x80;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (ok) {
      ok = (len != 3 ||
            (cp >= 0x800 && (cp < 0xD800 || cp > 0xDFFF) && cp != 0xFFFE && cp != 0xFFFF)) &&
           (len != 4 || (cp >= 0x10000 && cp <= 0x10FFFF));
    }
    if (ok) {
      out.append(text, i, len);
      i += len;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

std::string LinePlotSvg(const std::vector<Series>& series, const PlotOptions& options) {
  const PlotOptions& o = options;
  std::vector<Prepared> prepared;
  int next_color = 0;
  for (const Series& s : series) {
    std::string color = s.color.empty() ? kPalette[next_color++ % kPaletteSize] : s.color;
    prepared.push_back(Prepare(s, o, color));
  }
  Extent xe, ye;
  bool any = false;
  for (const Prepared& p : prepared) {
    for (const Run& run : p.runs) {
      for (const auto& [x, y] : run) {
        any = true;
        xe.Add(x);
        if (InRange(x, o.x_min, o.x_max)) ye.Add(y);
      }
    }
    for (const auto& band : p.bands) {
      for (const BandPoint& b : band) {
        any = true;
        xe.Add(b.x);
        if (InRange(b.x, o.x_min, o.x_max)) ye.Add(b.lo), ye.Add(b.hi);
      }
    }
  }
  Axis x, y;
  x.log = o.log_x;
  y.log = o.log_y;
  double w = std::max(200, o.width), h = std::max(150, o.height);
  double legend_width = LegendWidth(prepared, o.width);
  // The plot-area size is not known before the ticks are; estimate it for the range widening.
  double plot_w = w - (legend_width > 0 ? legend_width + 22 : 24) - 70;
  ResolveRange(xe, o.x_min, o.x_max, o.log_x, plot_w / MinSpacing(true), true, &x.lo, &x.hi);
  ResolveRange(ye, o.y_min, o.y_max, o.log_y, (h - 80) / MinSpacing(false), true, &y.lo, &y.hi);
  Frame f = Layout(o, false, legend_width, x, y);
  return RenderFrame(f, o, "", RenderSeries(prepared, f), RenderLegend(prepared, f),
                     any ? "" : "no data");
}

std::string HistogramSvg(const std::vector<double>& values, int bins, const PlotOptions& options) {
  KILN_CHECK(bins >= 1) << "HistogramSvg: bins must be >= 1, got " << bins;
  const PlotOptions& o = options;
  Extent ve;
  for (double v : values) {
    if (std::isfinite(v)) ve.Add(v);
  }
  double lo, hi;
  ResolveRange(ve, o.x_min, o.x_max, false, 1, false, &lo, &hi);
  std::vector<int64_t> counts(bins, 0);
  int64_t counted = 0;
  for (double v : values) {
    if (!std::isfinite(v) || v < lo || v > hi) continue;
    int b = static_cast<int>(std::floor((v - lo) / (hi - lo) * bins));
    counts[std::clamp(b, 0, bins - 1)]++;
    ++counted;
  }
  int64_t max_count = *std::max_element(counts.begin(), counts.end());
  Extent ce;
  ce.Add(o.log_y ? 0.5 : 0);
  ce.Add(std::max<double>(max_count, 1));
  Axis x, y;
  x.lo = lo;
  x.hi = hi;
  y.log = o.log_y;
  double h = std::max(150, o.height);
  std::optional<double> y_min = o.y_min;
  if (!y_min && !o.log_y) y_min = 0;  // bars stand on zero
  ResolveRange(ce, y_min, o.y_max, o.log_y, (h - 80) / MinSpacing(false), true, &y.lo, &y.hi);
  int64_t dropped = static_cast<int64_t>(values.size()) - counted;
  std::string subtitle = absl::StrCat("n = ", counted);
  if (dropped > 0) {
    absl::StrAppend(&subtitle, " (", dropped, " dropped: non-finite or outside the range)");
  }
  Frame f = Layout(o, true, 0, x, y);
  std::string bars;
  double base = f.y.Map(y.lo);
  for (int b = 0; b < bins; ++b) {
    if (counts[b] == 0 && o.log_y) continue;
    double x0 = f.x.Map(lo + (hi - lo) * b / bins), x1 = f.x.Map(lo + (hi - lo) * (b + 1) / bins);
    double gap = x1 - x0 > 4 ? 1 : 0;
    double top = counts[b] > 0 ? f.y.Map(static_cast<double>(counts[b])) : base;
    absl::StrAppend(&bars, "<rect class=\"bar\" data-count=\"", counts[b], "\" x=\"", Num(x0),
                    "\" y=\"", Num(top), "\" width=\"", Num(x1 - x0 - gap), "\" height=\"",
                    Num(std::max(0.0, base - top)), "\" fill=\"", kPalette[0],
                    "\" fill-opacity=\"0.75\"/>\n");
  }
  return RenderFrame(f, o, subtitle, bars, "", ve.empty() ? "no data" : "");
}

absl::Status WriteSvg(const std::string& path, const std::string& svg) {
  return WriteFileAtomic(path, svg);
}

}  // namespace kiln::report
