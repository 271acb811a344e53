// SVG plots written by hand (no plotting library): line plots with optional bands and log axes for
// training curves and checkpoint sweeps, and histograms. Output is deterministic (same input, same
// bytes) so plots can be committed next to results and diffed.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace kiln::report {

struct Series {
  std::string label{};             // legend entry; empty = not listed in the legend
  std::vector<double> x{}, y{};    // same length
  std::vector<double> lo{}, hi{};  // optional band (e.g. min/max over seeds); empty = no band;
                                   // else same length as x
  std::string color{};             // any SVG color; empty = next color of a fixed palette
  bool dashed = false;
  bool markers = false;
};

struct PlotOptions {
  std::string title{}, x_label{}, y_label{};
  bool log_x = false, log_y = false;
  int width = 720, height = 440;  // pixels; clamped to at least 200 x 150
  // Explicit axis bounds. Unset bounds come from the data, widened to "nice" tick values. Points
  // outside explicit bounds are clipped (lines are cut at the plot edge), and an explicit x range
  // limits which points set the automatic y range. A non-positive bound on a log axis is ignored.
  std::optional<double> x_min{}, x_max{}, y_min{}, y_max{};
};

// A line plot: axes with "nice" ticks (1-2-5 steps; decades on log axes), gridlines, axis labels,
// title, legend, one polyline per series, optional translucent band (polygon lo..hi).
// Point rules: NaN (in x, y, or for the band in lo/hi) breaks the line/band; infinite values are
// skipped (the line joins across them); on a log axis non-positive values are skipped too. A point
// with no drawn neighbour is shown as a dot. No drawable points at all gives an empty plot with
// axes and a "no data" note. Throws kiln::Error when x/y (or a non-empty lo/hi) differ in length.
std::string LinePlotSvg(const std::vector<Series>& series, const PlotOptions& options);

// A histogram of `values` in `bins` (>= 1) equal-width bins (bars), with a count axis. Bins span
// [x_min, x_max] when given, else the finite values' [min, max]; values outside that range and
// non-finite values are not counted (the note under the title says how many were dropped). log_y
// makes the count axis logarithmic (empty bins then draw nothing); log_x is ignored. Each bar
// carries a data-count attribute.
std::string HistogramSvg(const std::vector<double>& values, int bins, const PlotOptions& options);

// Writes an SVG (or any text) atomically (base/file.h WriteFileAtomic).
absl::Status WriteSvg(const std::string& path, const std::string& svg);

// Escapes &, <, >, " and ' for XML text and attributes; drops control characters XML 1.0 forbids.
std::string XmlEscape(const std::string& text);

}  // namespace kiln::report
