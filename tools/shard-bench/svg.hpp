#pragma once
// Plain SVG pictures written by shard-bench itself: heatmaps of matrices (bandwidth,
// latency) and line plots of sweeps. No plotting dependency; any browser shows them.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace bench::svg {

inline std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

inline std::string number(double v) {
  char buf[32];
  if (!std::isfinite(v)) return "-";
  const double a = std::fabs(v);
  if (a >= 100 || v == std::floor(v)) std::snprintf(buf, sizeof buf, "%.0f", v);
  else if (a >= 10) std::snprintf(buf, sizeof buf, "%.1f", v);
  else std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

/// A colour from dark blue (t = 0) through teal and green to yellow (t = 1), viridis-like.
inline std::string colour(double t) {
  static const double stops[][3] = {{68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}};
  t = std::clamp(std::isfinite(t) ? t : 0.0, 0.0, 1.0) * 4;
  const int i = std::min(3, static_cast<int>(t));
  const double f = t - i;
  char buf[16];
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", static_cast<int>(stops[i][0] + f * (stops[i + 1][0] - stops[i][0])),
                static_cast<int>(stops[i][1] + f * (stops[i + 1][1] - stops[i][1])),
                static_cast<int>(stops[i][2] + f * (stops[i + 1][2] - stops[i][2])));
  return buf;
}

inline void save(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  if (!out) throw std::runtime_error("cannot write " + path);
  out << text;
}

inline std::string header(int w, int h) {
  std::ostringstream os;
  os << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << w
     << "\" height=\"" << h << "\" viewBox=\"0 0 " << w << ' ' << h
     << "\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  return os.str();
}

/// One bar of a timeline: on row `row`, from `begin` to `end` (microseconds from the start).
struct span {
  int row;
  double begin, end;
  std::string name;
  bool copy;
};

/// A timeline: one row per label (a shard), its spans as bars (primitives blue, copies orange,
/// each named by a tooltip), the time axis in milliseconds.
inline std::string timeline(const std::string& title, const std::vector<std::string>& rows, const std::vector<span>& spans) {
  const int left = 110, right = 30, top = 60, row_h = 28, w = 900;
  const int h = top + static_cast<int>(rows.size()) * row_h + 50;
  const int pw = w - left - right;
  double t1 = 0;
  for (const auto& s : spans) t1 = std::max(t1, s.end);
  if (t1 <= 0) t1 = 1;
  const auto px = [&](double t) { return left + t / t1 * pw; };
  std::ostringstream os;
  os << header(w, h) << "<text x=\"" << left << "\" y=\"26\" font-size=\"15\" font-weight=\"bold\">" << escape(title)
     << "</text>\n<text x=\"" << left << "\" y=\"44\" fill=\"#555\">primitives blue, copies orange; time in ms</text>\n";
  for (std::size_t r = 0; r < rows.size(); ++r) {
    const int y = top + static_cast<int>(r) * row_h;
    os << "<text x=\"" << left - 8 << "\" y=\"" << y + row_h / 2 + 4 << "\" text-anchor=\"end\">" << escape(rows[r])
       << "</text>\n<line x1=\"" << left << "\" y1=\"" << y + row_h << "\" x2=\"" << left + pw << "\" y2=\"" << y + row_h
       << "\" stroke=\"#ddd\"/>\n";
  }
  for (const auto& s : spans) {
    const int y = top + s.row * row_h + 4;
    const double x = px(s.begin), width = std::max(0.5, px(s.end) - x);
    os << "<rect x=\"" << number(x) << "\" y=\"" << y << "\" width=\"" << number(width) << "\" height=\"" << row_h - 8
       << "\" fill=\"" << (s.copy ? "#ff7f0e" : "#1f77b4") << "\"><title>" << escape(s.name) << ": "
       << number((s.end - s.begin) / 1e3) << " ms</title></rect>\n";
  }
  const int axis = top + static_cast<int>(rows.size()) * row_h + 18;
  for (int k = 0; k <= 5; ++k) {
    const double t = t1 * k / 5;
    os << "<text x=\"" << number(px(t)) << "\" y=\"" << axis << "\" text-anchor=\"middle\">" << number(t / 1e3)
       << "</text>\n";
  }
  os << "</svg>\n";
  return os.str();
}

/// A matrix as coloured cells with their values; rows = source, columns = destination unless
/// labels say otherwise (row_labels / col_labels; empty: the shard indices).
inline std::string heatmap(const std::string& title, const std::string& unit, const std::vector<std::vector<double>>& m,
                           std::vector<std::string> row_labels = {}, std::vector<std::string> col_labels = {}) {
  const int rows = static_cast<int>(m.size());
  int cols = 0;
  for (auto& row : m) cols = std::max(cols, static_cast<int>(row.size()));
  const bool shards = row_labels.empty() && col_labels.empty();
  for (int r = static_cast<int>(row_labels.size()); r < rows; ++r) row_labels.push_back(std::to_string(r));
  for (int c = static_cast<int>(col_labels.size()); c < cols; ++c) col_labels.push_back(std::to_string(c));
  const int n = std::max(rows, cols);
  const int cell = n <= 8 ? 56 : std::max(20, 448 / std::max(n, 1));
  const int left = 70, top = 60, h = std::max(top + rows * cell + 50, top + 180);
  const int w = std::max(left + cols * cell + 110, left + 9 * static_cast<int>(title.size()) + 20);
  double lo = INFINITY, hi = -INFINITY;
  for (auto& row : m)
    for (double v : row)
      if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  if (!(lo <= hi)) lo = 0, hi = 1;
  const auto scale = [&](double v) { return hi > lo ? (v - lo) / (hi - lo) : 0.5; };
  std::ostringstream os;
  os << header(w, h) << "<text x=\"" << left << "\" y=\"24\" font-size=\"15\" font-weight=\"bold\">" << escape(title)
     << "</text>\n<text x=\"" << left << "\" y=\"42\" fill=\"#555\">" << escape(unit)
     << (shards ? "; row = from shard, column = to shard" : "") << "</text>\n";
  for (int r = 0; r < rows; ++r) {
    os << "<text x=\"" << left - 8 << "\" y=\"" << top + r * cell + cell / 2 + 4 << "\" text-anchor=\"end\">"
       << escape(row_labels[static_cast<std::size_t>(r)]) << "</text>\n";
    for (int c = 0; c < cols; ++c) {
      const double v = c < static_cast<int>(m[static_cast<std::size_t>(r)].size()) ? m[static_cast<std::size_t>(r)][static_cast<std::size_t>(c)] : NAN;
      const double t = scale(v);
      os << "<rect x=\"" << left + c * cell << "\" y=\"" << top + r * cell << "\" width=\"" << cell << "\" height=\""
         << cell << "\" fill=\"" << (std::isfinite(v) ? colour(t) : std::string("#dddddd"))
         << "\" stroke=\"white\"/>\n<text x=\"" << left + c * cell + cell / 2 << "\" y=\"" << top + r * cell + cell / 2 + 4
         << "\" text-anchor=\"middle\" font-size=\"" << (cell >= 40 ? 11 : 8) << "\" fill=\""
         << (t > 0.6 ? "black" : "white") << "\">" << escape(number(v)) << "</text>\n";
    }
  }
  for (int c = 0; c < cols; ++c)
    os << "<text x=\"" << left + c * cell + cell / 2 << "\" y=\"" << top - 6 << "\" text-anchor=\"middle\">"
       << escape(col_labels[static_cast<std::size_t>(c)]) << "</text>\n";
  // Legend: a vertical colour bar with the range.
  const int lx = left + cols * cell + 30;
  for (int i = 0; i < 10; ++i)
    os << "<rect x=\"" << lx << "\" y=\"" << top + (9 - i) * 16 << "\" width=\"16\" height=\"16\" fill=\""
       << colour(i / 9.0) << "\"/>\n";
  os << "<text x=\"" << lx + 22 << "\" y=\"" << top + 12 << "\">" << escape(number(hi)) << "</text>\n<text x=\""
     << lx + 22 << "\" y=\"" << top + 160 << "\">" << escape(number(lo)) << "</text>\n</svg>\n";
  return os.str();
}

struct series {
  std::string name;
  std::vector<std::pair<double, double>> points;  // (x, y)
};

/// Line plot of several series; x on a log2 axis (sizes), y linear from 0 (or log10).
inline std::string line_plot(const std::string& title, const std::string& x_label, const std::string& y_label,
                             const std::vector<series>& data, bool log_y = false) {
  const int w = 760, h = 440, left = 80, right = 200, top = 50, bottom = 60;
  const int pw = w - left - right, ph = h - top - bottom;
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  for (auto& s : data)
    for (auto& [x, y] : s.points)
      if (x > 0 && std::isfinite(y) && (!log_y || y > 0)) x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
  if (!(x0 <= x1)) x0 = 1, x1 = 2, y0 = 1, y1 = 10;  // no points: an empty frame
  if (x1 == x0) x1 = x0 * 2;
  if (!log_y) y0 = 0;
  if (y1 <= y0) y1 = log_y ? y0 * 10 : y0 + 1;
  const double lx0 = std::log2(x0), lx1 = std::log2(x1);
  // Linear axis: a 1-2-5 step giving about five ticks, the top rounded up to a step.
  double step = 1;
  if (!log_y) {
    const double raw = y1 / 5, decade = std::pow(10.0, std::floor(std::log10(raw)));
    step = raw <= decade ? decade : raw <= 2 * decade ? 2 * decade : raw <= 5 * decade ? 5 * decade : 10 * decade;
  }
  const double ly0 = log_y ? std::floor(std::log10(y0)) : y0;
  const double ly1 = log_y ? std::ceil(std::log10(y1)) : std::ceil(y1 / step) * step;
  const auto px = [&](double x) { return left + (std::log2(x) - lx0) / (lx1 - lx0) * pw; };
  const auto py = [&](double y) {
    const double v = log_y ? std::log10(y) : y;
    return top + ph - (v - ly0) / (ly1 - ly0 == 0 ? 1 : ly1 - ly0) * ph;
  };
  static const char* palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"};
  std::ostringstream os;
  os << header(w, h) << "<text x=\"" << left << "\" y=\"26\" font-size=\"15\" font-weight=\"bold\">" << escape(title)
     << "</text>\n<rect x=\"" << left << "\" y=\"" << top << "\" width=\"" << pw << "\" height=\"" << ph
     << "\" fill=\"none\" stroke=\"#999\"/>\n";
  // x ticks at powers of two (every other one when crowded).
  const int first = static_cast<int>(std::ceil(lx0)), last = static_cast<int>(std::floor(lx1));
  const int stride = std::max(1, (last - first) / 10 + 1);
  for (int e = first; e <= last; e += stride) {
    const double x = std::ldexp(1.0, e);
    std::string label = e >= 30 ? std::to_string(1 << (e - 30)) + "G" : e >= 20 ? std::to_string(1 << (e - 20)) + "M"
                        : e >= 10 ? std::to_string(1 << (e - 10)) + "K" : std::to_string(1 << e);
    os << "<line x1=\"" << px(x) << "\" y1=\"" << top << "\" x2=\"" << px(x) << "\" y2=\"" << top + ph
       << "\" stroke=\"#eee\"/>\n<text x=\"" << px(x) << "\" y=\"" << top + ph + 16 << "\" text-anchor=\"middle\">"
       << label << "</text>\n";
  }
  // y ticks: 6 even steps, or 1-2-5 per decade on a log axis.
  std::vector<double> ticks;
  if (log_y) {
    const bool dense = ly1 - ly0 <= 2;
    for (int e = static_cast<int>(ly0); e <= static_cast<int>(ly1); ++e)
      for (double m : {1.0, 2.0, 5.0})
        if (m == 1.0 || dense) {
          const double y = m * std::pow(10.0, e);
          if (std::log10(y) <= ly1 + 1e-9) ticks.push_back(y);
        }
  } else {
    for (double y = ly0; y <= ly1 + step / 2; y += step) ticks.push_back(y);
  }
  for (double y : ticks) {
    os << "<line x1=\"" << left << "\" y1=\"" << py(y) << "\" x2=\"" << left + pw << "\" y2=\"" << py(y)
       << "\" stroke=\"#eee\"/>\n<text x=\"" << left - 6 << "\" y=\"" << py(y) + 4 << "\" text-anchor=\"end\">"
       << escape(number(y)) << "</text>\n";
  }
  os << "<text x=\"" << left + pw / 2 << "\" y=\"" << h - 18 << "\" text-anchor=\"middle\">" << escape(x_label)
     << "</text>\n<text x=\"18\" y=\"" << top + ph / 2 << "\" text-anchor=\"middle\" transform=\"rotate(-90 18 "
     << top + ph / 2 << ")\">" << escape(y_label) << "</text>\n";
  for (std::size_t i = 0; i < data.size(); ++i) {
    const std::string c = palette[i % 10];
    std::ostringstream pts;
    for (auto& [x, y] : data[i].points)
      if (x > 0 && std::isfinite(y) && (!log_y || y > 0)) pts << px(x) << ',' << py(y) << ' ';
    os << "<polyline fill=\"none\" stroke=\"" << c << "\" stroke-width=\"2\" points=\"" << pts.str() << "\"/>\n";
    for (auto& [x, y] : data[i].points)
      if (x > 0 && std::isfinite(y) && (!log_y || y > 0))
        os << "<circle cx=\"" << px(x) << "\" cy=\"" << py(y) << "\" r=\"3\" fill=\"" << c << "\"/>\n";
    const int ly = top + 14 + static_cast<int>(i) * 18;
    os << "<line x1=\"" << left + pw + 14 << "\" y1=\"" << ly - 4 << "\" x2=\"" << left + pw + 34 << "\" y2=\""
       << ly - 4 << "\" stroke=\"" << c << "\" stroke-width=\"2\"/>\n<text x=\"" << left + pw + 40 << "\" y=\"" << ly
       << "\">" << escape(data[i].name) << "</text>\n";
  }
  os << "</svg>\n";
  return os.str();
}

}  // namespace bench::svg
