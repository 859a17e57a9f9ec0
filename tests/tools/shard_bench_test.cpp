// shard-bench: its SVG writer, the cost model, the summary, CSV and baseline helpers, and the
// tool itself run on the host backend (the executable named by SHARD_BENCH_EXE): every
// command and option, its JSON parsed back and its fields checked, its CSV against its
// records, every SVG file checked to be well-formed XML, verification caught through the
// corruption hook, thresholds, baselines, and bad command lines.
#include "../support/test_support.hpp"

#include "algorithms.hpp"
#include "collectives.hpp"
#include "common.hpp"
#include "links.hpp"
#include "report.hpp"
#include "model.hpp"
#include "svg.hpp"
#include "topo.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>

#include <sys/wait.h>
#include <unistd.h>

namespace {

namespace fs = std::filesystem;

std::string read(const fs::path& p) {
  std::ifstream in(p);
  REQUIRE_MESSAGE(in.good(), "cannot read " << p);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// Well-formed XML (the subset SVG files use): one root element, balanced and properly
/// nested tags, quoted attributes, no raw '<' or stray '&' in text or attribute values.
/// Returns "" or what is wrong.
std::string xml_problem(const std::string& s) {
  std::size_t i = 0;
  std::vector<std::string> open;
  int roots = 0;
  auto entity_ok = [&](std::size_t at) {
    for (const char* e : {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"})
      if (s.compare(at, std::strlen(e), e) == 0) return true;
    return s.compare(at, 2, "&#") == 0 && s.find(';', at) != std::string::npos;
  };
  auto name_char = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == ':' || c == '.'; };
  if (s.compare(0, 5, "<?xml") == 0) {
    i = s.find("?>");
    if (i == std::string::npos) return "unterminated XML declaration";
    i += 2;
  }
  while (i < s.size()) {
    if (s[i] != '<') {
      if (s[i] == '&' && !entity_ok(i)) return "stray '&' at " + std::to_string(i);
      if (open.empty() && !std::isspace(static_cast<unsigned char>(s[i]))) return "text outside the root at " + std::to_string(i);
      ++i;
      continue;
    }
    if (s.compare(i, 4, "<!--") == 0) {
      i = s.find("-->", i);
      if (i == std::string::npos) return "unterminated comment";
      i += 3;
      continue;
    }
    const bool closing = s[i + 1] == '/';
    std::size_t j = i + (closing ? 2 : 1);
    const std::size_t name_start = j;
    while (j < s.size() && name_char(s[j])) ++j;
    const std::string name = s.substr(name_start, j - name_start);
    if (name.empty()) return "tag without a name at " + std::to_string(i);
    if (closing) {
      while (j < s.size() && std::isspace(static_cast<unsigned char>(s[j]))) ++j;
      if (j >= s.size() || s[j] != '>') return "bad closing tag " + name;
      if (open.empty() || open.back() != name) return "closing tag " + name + " does not match";
      open.pop_back();
      i = j + 1;
      continue;
    }
    // attributes: name="value"
    for (;;) {
      while (j < s.size() && std::isspace(static_cast<unsigned char>(s[j]))) ++j;
      if (j >= s.size()) return "unterminated tag " + name;
      if (s[j] == '>' || s.compare(j, 2, "/>") == 0) break;
      const std::size_t a = j;
      while (j < s.size() && name_char(s[j])) ++j;
      if (j == a || j >= s.size() || s[j] != '=' || (s[j + 1] != '"' && s[j + 1] != '\'')) return "bad attribute in " + name + " at " + std::to_string(a);
      const char q = s[j + 1];
      const std::size_t end = s.find(q, j + 2);
      if (end == std::string::npos) return "unterminated attribute in " + name;
      for (std::size_t k = j + 2; k < end; ++k) {
        if (s[k] == '<') return "'<' in an attribute of " + name;
        if (s[k] == '&' && !entity_ok(k)) return "stray '&' in an attribute of " + name;
      }
      j = end + 1;
    }
    if (open.empty()) ++roots;
    if (s[j] == '>') open.push_back(name), i = j + 1;
    else i = j + 2;
  }
  if (!open.empty()) return "unclosed element " + open.back();
  if (roots != 1) return std::to_string(roots) + " root elements";
  return "";
}

/// Runs shard-bench with `args` (and environment assignments `env`); returns its exit code.
/// stdout goes to `log`, stderr to `log` too unless `err` names a file of its own.
int shard_bench(const std::string& args, const fs::path& log, const std::string& env = "", const fs::path& err = {}) {
  const char* exe = std::getenv("SHARD_BENCH_EXE");
  REQUIRE_MESSAGE(exe != nullptr, "SHARD_BENCH_EXE names the shard-bench executable under test");
  const std::string errors = err.empty() ? std::string("2>&1") : "2>\"" + err.string() + "\"";
  const std::string command = "SHARD_HOST_DEVICES=3 " + env + " \"" + exe + "\" " + args + " >\"" + log.string() + "\" " + errors;
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bench::json read_json(const fs::path& p) {
  const std::string text = read(p);
  INFO(p.string());
  bench::json doc;
  REQUIRE_NOTHROW(doc = bench::json::parse(text));
  return doc;
}

/// The sum of a test's "wrong" matrices (link tests) or points' "wrong" (sweeps); -1 when
/// nothing was verified.
long long wrong_of(const bench::json& test) {
  long long total = -1;
  auto add = [&](long long w) { total = bench::add_wrong(total, w); };
  if (test.contains("panels"))
    for (auto& p : test.at("panels"))
      for (auto& row : p.at("wrong"))
        for (auto& w : row) add(w.get<long long>());
  if (test.contains("points"))
    for (auto& p : test.at("points")) add(p.at("wrong").get<long long>());
  return total;
}

fs::path scratch(const std::string& name) {
  const fs::path p = fs::temp_directory_path() / ("shard_bench_test_" + std::to_string(::getpid())) / name;
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

void check_matrix(const bench::json& m, std::size_t rows, std::size_t cols) {
  REQUIRE(m.is_array());
  REQUIRE(m.size() == rows);
  for (auto& row : m) {
    REQUIRE(row.size() == cols);
    for (auto& x : row) CHECK(x.get<double>() > 0);
  }
}

}  // namespace

TEST_CASE("svg: heatmaps and line plots are well-formed and escape their text") {
  const std::string h = bench::svg::heatmap("A <b> & \"c\"", "GB/s", {{1, 2}, {3, NAN}});
  CHECK(xml_problem(h) == "");
  CHECK(h.find("A &lt;b&gt; &amp; &quot;c&quot;") != std::string::npos);
  const std::string labelled = bench::svg::heatmap("host", "GB/s", {{1, 2, 3}}, {"host->"}, {"0", "1", "total & more"});
  CHECK(xml_problem(labelled) == "");
  CHECK(labelled.find("total &amp; more") != std::string::npos);
  CHECK(labelled.find("host-&gt;") != std::string::npos);
  const std::string l = bench::svg::line_plot("t & u", "x", "y", {{"s1", {{1024, 1}, {4096, 2}}}, {"s<2>", {{2048, 0.5}}}});
  CHECK(xml_problem(l) == "");
  CHECK(xml_problem(bench::svg::line_plot("empty", "x", "y", {}, true)) == "");
  // The checker itself catches what it should.
  CHECK(xml_problem("<svg><g></svg>") != "");
  CHECK(xml_problem("<svg a=\"1 & 2\"/>") != "");
  CHECK(xml_problem("<svg/><svg/>") != "");
}

TEST_CASE("records and figures go to JSON and back (to_json / from_json)") {
  bench::record r{"p2p_bw_ce", "0->1", "bandwidth", "GB/s", 65536, bench::figure::of({3, 1, 2}), 0, true, true};
  const bench::json j = r;
  CHECK(j.at("value") == 2);
  CHECK(j.at("samples") == 3);
  const auto back = j.get<bench::record>();
  CHECK(back.test == r.test);
  CHECK(back.label == r.label);
  CHECK(back.metric == r.metric);
  CHECK(back.unit == r.unit);
  CHECK(back.bytes == r.bytes);
  CHECK(back.f.value == r.f.value);
  CHECK(back.f.min == r.f.min);
  CHECK(back.f.max == r.f.max);
  CHECK(back.f.stdev == doctest::Approx(r.f.stdev));
  CHECK(back.f.samples == r.f.samples);
  CHECK(back.wrong == 0);
  CHECK(back.higher_is_better);
  CHECK(back.headline);
  // A figure never measured is null in JSON and NaN again when read back.
  const auto unmeasured = bench::json(bench::figure{}).get<bench::figure>();
  CHECK(std::isnan(unmeasured.value));
  bench::json missing = j;
  missing.erase("metric");
  CHECK_THROWS_WITH(missing.get<bench::record>(), doctest::Contains("\"metric\""));
}

TEST_CASE("the families register themselves, in order, and every test key is listed once") {
  std::vector<std::string> commands;
  for (const auto& f : bench::family_registry()) commands.push_back(f.command);
  CHECK(commands == std::vector<std::string>{"topo", "p2p", "host", "collectives", "algorithms"});
  std::set<std::string> keys;
  for (const auto& t : bench::test_list()) {
    CHECK(keys.insert(t.key).second);
    CHECK(std::find(commands.begin(), commands.end(), t.command) != commands.end());
  }
  CHECK(keys.size() == 33);
}

TEST_CASE("sizes, counts, sweeps and figures") {
  CHECK(bench::parse_size("64K", "--bytes") == 65536);
  CHECK(bench::parse_size("2G", "--bytes") == (std::size_t{2} << 30));
  CHECK(bench::parse_size("4096", "--bytes") == 4096);
  CHECK_THROWS_WITH(bench::parse_size("-1", "--bytes"), doctest::Contains("is not a size"));
  CHECK_THROWS_WITH(bench::parse_size("1.5M", "--bytes"), doctest::Contains("is not a size"));
  CHECK_THROWS_WITH(bench::parse_size("99999999999999999G", "--bytes"), doctest::Contains("too large"));
  CHECK_THROWS_WITH(bench::parse_size("4", "--bytes", 8), doctest::Contains("less than 8"));
  CHECK(bench::parse_count("8", "--shards", 1) == 8);
  CHECK_THROWS_WITH(bench::parse_count("4K", "--shards", 1), doctest::Contains("is not a count"));
  CHECK_THROWS_WITH(bench::parse_count("0", "--shards", 1), doctest::Contains("less than 1"));
  CHECK(bench::sweep(1024, 4096, 2) == std::vector<std::size_t>{1024, 2048, 4096});
  CHECK(bench::sweep(1024, 5000, 4) == std::vector<std::size_t>{1024, 4096, 5000});
  const auto f = bench::figure::of({3, 1, 2, 10});
  CHECK(f.value == 2.5);
  CHECK(f.min == 1);
  CHECK(f.max == 10);
  CHECK(f.samples == 4);
  CHECK(f.stdev == doctest::Approx(4.0825).epsilon(1e-3));
  // A dropped sample (a blocking kernel that timed out) is left out; none left: no figure.
  const auto g = bench::figure::of({NAN, 2, 4});
  CHECK(g.value == 3);
  CHECK(g.samples == 2);
  CHECK(std::isnan(bench::figure::of({NAN}).value));
  CHECK(std::isnan(bench::links_detail::longest_of({1.0, NAN})));
  CHECK(bench::links_detail::longest_of({1.0, 3.0}) == 3.0);
}

TEST_CASE("collectives' inputs differ between shards, so a wrong source or a skipped reduction shows") {
  using bench::collectives_detail::input_value;
  for (std::size_t i : {0, 1, 2, 1000})
    for (const bool reducing : {true, false}) {
      CAPTURE(i);
      CAPTURE(reducing);
      std::set<int> values;
      for (std::size_t s = 0; s < 3; ++s) values.insert(input_value<int>(reducing, s, i, 17));
      CHECK(values.size() == 3);
    }
  // The reducing values stay small (1..3): products of 16 shards fit int32.
  for (std::size_t s = 0; s < 16; ++s) {
    CHECK(input_value<int>(true, s, 5, 3) >= 1);
    CHECK(input_value<int>(true, s, 5, 3) <= 3);
  }
}

TEST_CASE("summary, CSV and baseline from records") {
  auto rec = [](std::string test, std::string metric, double v, long long wrong, bool higher, bool headline) {
    bench::record r;
    r.test = std::move(test), r.label = "0->1", r.metric = std::move(metric), r.unit = "GB/s";
    r.f.value = v, r.f.samples = 1, r.wrong = wrong, r.higher_is_better = higher, r.headline = headline;
    return r;
  };
  std::vector<bench::record> links{rec("p2p_bw_ce", "gbps", 10, 0, true, true), rec("p2p_bw_ce", "gbps", 30, 2, true, true),
                                   rec("p2p_latency", "latency_us", 5, -1, false, false)};
  auto s = bench::summarize(links);
  CHECK(s.avg_gbps == 20);
  CHECK(s.figures == 2);
  CHECK(s.wrong == 2);
  // With collectives, the summary is their bus bandwidth (nccl-tests' "Avg bus bandwidth").
  links.push_back(rec("all_reduce", "busbw_gbps", 4, 0, true, true));
  s = bench::summarize(links);
  CHECK(s.avg_gbps == 4);
  CHECK(s.over == "collectives' bus bandwidth");

  std::ostringstream csv;
  links[0].label = "a, \"quoted\" label";
  bench::write_csv(csv, links);
  CHECK(csv.str().rfind(std::string(bench::csv_header()) + "\n", 0) == 0);
  CHECK(csv.str().find("\"a, \"\"quoted\"\" label\"") != std::string::npos);

  bench::json old;
  old["records"] = bench::json::array();
  old["records"].push_back(bench::json{{"test", "p2p_bw_ce"}, {"label", "a, \"quoted\" label"}, {"metric", "gbps"}, {"value", 20}});
  old["records"].push_back(bench::json{{"test", "p2p_latency"}, {"label", "0->1"}, {"metric", "latency_us"}, {"value", 5}});
  std::ostringstream os;
  bench::json comparison;
  CHECK(bench::compare_baseline(os, links, old, "old.json", comparison) == 1);  // 10 GB/s against 20: slower
  REQUIRE(comparison.size() == 2);
  CHECK(comparison[0].at("ratio").get<double>() == 0.5);
  CHECK(comparison[0].at("slower").get<bool>());
  CHECK_FALSE(comparison[1].at("slower").get<bool>());
  CHECK(os.str().find("slower") != std::string::npos);
  CHECK_THROWS_WITH(bench::compare_baseline(os, links, bench::json::object(), "x.json", comparison),
                    doctest::Contains("not a shard-bench JSON file"));
}

TEST_CASE("model: projections follow the stats, phase by phase") {
  bench::machine m = bench::uniform_machine("test", 2, 1000, 100, 2, 10, 5, 3, 7, 11);
  shard::stats st;
  st.shards = 2;
  st.bytes.assign(9, 0);
  st.launches = {2, 1};
  st.peak_bytes = {0, 0};
  st.host_syncs = 3;
  st.bytes[0 * 3 + 1] = 100'000;  // shard 0 -> 1: 100 kB
  st.bytes[1 * 3 + 2] = 20'000;   // shard 1 -> host: 20 kB
  const auto phases = bench::project(m, st, {1'000'000, 500'000}, 4);
  REQUIRE(phases.size() == 6);
  CHECK(phases[0].us == doctest::Approx(4.0));             // 4 MB at 1000 GB/s
  CHECK(phases[1].us == doctest::Approx(6.0));             // 2 launches x 3 us
  CHECK(phases[2].us == doctest::Approx(1.0 + 2.0));       // 100 kB at 100 GB/s + 2 us
  CHECK(phases[3].us == doctest::Approx(2.0 + 5.0));       // 20 kB at 10 GB/s + 5 us
  CHECK(phases[4].us == doctest::Approx(21.0));            // 3 syncs x 7 us
  CHECK(phases[5].us == 0);                                // no merge
  CHECK(bench::total_us(phases) == doctest::Approx(4 + 6 + 3 + 7 + 21));
  // Merge passes: ceil(log2 R) levels over the runs from the R sources that sent a shard
  // elements (its own local copy included), less the one-shard call's levels.
  CHECK(bench::merge_passes(0) == 0);
  CHECK(bench::merge_passes(1) == 0);
  CHECK(bench::merge_passes(2) == 1);
  CHECK(bench::merge_passes(3) == 2);
  CHECK(bench::merge_passes(256) == 8);
  shard::stats ms;
  ms.shards = 2;
  ms.bytes.assign(9, 0);
  ms.launches = {0, 0};
  ms.peak_bytes = {0, 0};
  ms.bytes[0 * 3 + 0] = ms.bytes[1 * 3 + 1] = ms.bytes[0 * 3 + 1] = 1000;  // shard 1: two runs, shard 0: one
  // A level: 2 x segment x 4 bytes / 1000 GB/s (shard 1: 500K elements, 4 us), or calibrated.
  const bench::merge_work sort_like{0, {}};
  CHECK(bench::project(m, ms, {1'000'000, 500'000}, 4, {}, 1, &sort_like)[5].us == doctest::Approx(4.0));
  const bench::merge_work calibrated{0, [](double n) { return n / 1000; }};
  CHECK(bench::project(m, ms, {1'000'000, 500'000}, 4, {}, 3, &calibrated)[5].us == doctest::Approx(500 * 3.0));
  // A one-shard call's level is in its calibration already: 1 - 1 levels on shard 1.
  const bench::merge_work merge_like{1, [](double n) { return n / 1000; }};
  CHECK(bench::project(m, ms, {1'000'000, 500'000}, 4, {}, 3, &merge_like)[5].us == 0);
  // A sliver from the other shard costs a whole level, as merge_tree's levels do.
  ms.bytes[0 * 3 + 1] = 10;
  CHECK(bench::project(m, ms, {1'000'000, 500'000}, 4, {}, 1, &sort_like)[5].us == doctest::Approx(4.0));
  // The merge's calibration key is its case's name.
  for (const auto& c : bench::algorithm_cases())
    if (c.key == "merge_int32") CHECK(bench::case_name(c) == bench::merge_case_name());
  // Collectives: collective latency + size x busbw factor / slowest link (100 GB/s).
  CHECK(bench::project_collective(m, "all_reduce", 100'000).projected_us == doctest::Approx(11 + 1.0));   // factor 1
  CHECK(bench::project_collective(m, "all_gather", 100'000).projected_us == doctest::Approx(11 + 0.5));   // factor 1/2
  CHECK(bench::project_collective(m, "broadcast", 100'000).projected_us == doctest::Approx(11 + 1.0));    // factor 1
}

TEST_CASE("model: calibrated by one-shard figures, and machines of several nodes") {
  bench::calibration cal;
  cal.parallel_shards = 2;
  cal.one_shard_us["x"] = {{1000, 10}, {4000, 40}, {16000, 200}};
  CHECK(cal.at("x", 1000) == doctest::Approx(10));
  CHECK(cal.at("x", 2000) == doctest::Approx(20));           // log-log between 1000 and 4000: linear there
  CHECK(cal.at("x", 8000) == doctest::Approx(40 * std::pow(5.0, 0.5)));  // slope log(5)/log(4)
  CHECK(cal.at("x", 64000) == doctest::Approx(1000));        // extrapolated from the last two
  CHECK(std::isnan(cal.at("missing", 10)));
  // The local phase becomes the one-shard time of the segment, times the shards per processor.
  bench::machine m = bench::uniform_machine("test", 2, 1000, 100, 2, 10, 5, 3, 7, 11);
  shard::stats st;
  st.shards = 2;
  st.bytes.assign(9, 0);
  st.launches = {0, 0};
  st.peak_bytes = {0, 0};
  const auto phases = bench::project(m, st, {4000, 1000}, 4, [&](double n) { return cal.at("x", n); }, 3.0);
  CHECK(phases[0].us == doctest::Approx(40 * 3.0));
  // run_model: with a calibration of transform, its local phase is the calibrated one.
  bench::calibration t;
  t.parallel_shards = 1;  // 2 shards on one processor: each segment's time counts twice
  t.one_shard_us["transform (float32)"] = {{1 << 10, 100}, {1 << 16, 6400}};
  const auto rows = bench::run_model(m, 1 << 16, &t);
  CHECK(rows[0].phases[0].us == doctest::Approx(t.at("transform (float32)", 1 << 15) * 2));
  // With the merge calibrated, a sort's merge level costs half the one-shard merge of its
  // segment, scaled to the element size: sort_by_key's (8 bytes) twice sort int32's.
  bench::calibration with_merge;
  with_merge.parallel_shards = 1;
  with_merge.one_shard_us["merge (int32 keys)"] = {{1 << 10, 100}, {1 << 16, 6400}};
  double sort32 = -1, pairs = -1;
  for (const auto& r : bench::run_model(m, 1 << 16, &with_merge)) {
    if (r.algorithm == "sort (int32 keys)") sort32 = r.phases[5].us;
    if (r.algorithm == "sort_by_key (int32 keys, int32 values)") pairs = r.phases[5].us;
  }
  // 2 shards, each receiving from both: 1 level x half the merge x 2 shards per processor.
  CHECK(sort32 == doctest::Approx(with_merge.at("merge (int32 keys)", 1 << 15)));
  CHECK(pairs == doctest::Approx(2 * sort32));
  // Two nodes of two GPUs: links within a node, the network between.
  const auto c = bench::cluster_machine("c", 2, 2, 1000, 300, 2, 50, 5, 40, 8, 4, 30, 40);
  CHECK(c.gpus == 4);
  CHECK(c.link_gbps[0 * 4 + 1] == 300);
  CHECK(c.link_gbps[0 * 4 + 2] == 50);
  CHECK(c.link_latency_us[3 * 4 + 0] == 5);
  CHECK(bench::preset("2x8-h100-ib").gpus == 16);
  CHECK(bench::preset("4x8-h100-ib").gpus == 32);
}

TEST_CASE("model: machines are read from JSON, checked, and built from p2p figures") {
  const auto dgx = bench::preset("dgx-h100");
  CHECK(dgx.gpus == 8);
  const auto back = bench::machine_from_json(bench::json::parse(bench::machine_json(dgx).dump()));
  CHECK(back.link_gbps == dgx.link_gbps);
  CHECK(back.memory_bandwidth_gbps == dgx.memory_bandwidth_gbps);
  CHECK_THROWS_WITH(bench::preset("laptop"), doctest::Contains("unknown preset \"laptop\""));
  auto bad = bench::machine_json(dgx);
  bad["link_bandwidth_gbps"] = std::vector<double>{1, 2};
  CHECK_THROWS_WITH(bench::machine_from_json(bad), doctest::Contains("link_bandwidth_gbps"));
  bad = bench::machine_json(dgx);
  bad["memory_bandwidth_gbps"] = -1;
  CHECK_THROWS_WITH(bench::machine_from_json(bad), doctest::Contains("must be positive"));
  bad = bench::machine_json(dgx);
  bad["host_latency_us"] = "fast";
  CHECK_THROWS_WITH(bench::machine_from_json(bad), doctest::Contains("\"host_latency_us\" must be a number"));
  bad.erase("sync_latency_us");
  bad["host_latency_us"] = 1;
  CHECK_THROWS_WITH(bench::machine_from_json(bad), doctest::Contains("missing member \"sync_latency_us\""));
  bad = bench::machine_json(dgx);
  bad["link_latency_us"] = 3.0;  // one number: every pair
  CHECK(bench::machine_from_json(bad).link_latency_us == std::vector<double>(64, 3.0));

  const auto p2p = bench::json::parse(R"({"tests": {
      "p2p_bw_ce": {"panels": {"gbps": {"matrix": [[200, 40], [40, 200]]}}},
      "p2p_latency": {"sync_us": 9, "launch_us": 2, "panels": {"latency_us": {"matrix": [[1, 3], [3, 1]]}}},
      "p2p_bw_staged": {"panels": {"gbps": {"matrix": [[200, 10], [10, 200]]}}},
      "p2p_latency_staged": {"panels": {"latency_us": {"matrix": [[1, 20], [20, 1]]}}}}})");
  const auto m = bench::machine_from_p2p(p2p, "measured");
  CHECK(m.gpus == 2);
  CHECK(m.memory_bandwidth_gbps == 200);
  CHECK(m.link_gbps == std::vector<double>{200, 40, 40, 200});
  CHECK(m.host_bandwidth_gbps == 10);
  CHECK(m.host_latency_us == 10);
  CHECK(m.sync_latency_us == 9);
  CHECK(m.launch_latency_us == 2);
  CHECK_THROWS_WITH(bench::machine_from_p2p(bench::json::parse(R"({"tests": {}})"), "x"), doctest::Contains("no test \"p2p_bw_ce\""));
  // The projection of the presets: transform moves nothing between shards, reduce a partial per shard.
  const auto rows = bench::run_model(dgx, 1 << 16);
  REQUIRE(rows.size() >= 2);
  CHECK(rows[0].algorithm == "transform (float32)");
  CHECK(rows[0].phases[2].us == 0);
  CHECK(rows[1].phases[3].us > 0);
}

TEST_CASE("shard-bench all: every test runs on emulated devices; JSON, CSV and SVG hold every figure") {
  const fs::path dir = scratch("all");
  REQUIRE(shard_bench("all --quick --backend host --json \"" + (dir / "all.json").string() + "\" --csv \"" +
                          (dir / "all.csv").string() + "\" --svg \"" + (dir / "svg").string() + "\"",
                      dir / "all.log", "", dir / "all.err") == 0);
  const std::string out = read(dir / "all.log");
  CHECK(out.find("emulated devices") != std::string::npos);
  CHECK(out.find("verification on") != std::string::npos);
  for (const char* section : {"== topology", "== p2p", "== host links", "== collectives", "== algorithms", "== model",
                              "# Out of bounds values : 0 OK", "# Avg bus bandwidth"})
    CHECK_MESSAGE(out.find(section) != std::string::npos, section);
  // The progress line with its estimate, on stderr.
  CHECK(read(dir / "all.err").find("[p2p] ") != std::string::npos);
  CHECK(read(dir / "all.err").find(" left") != std::string::npos);

  const auto doc = read_json(dir / "all.json");
  CHECK(doc.at("tool") == "shard-bench");
  CHECK(doc.at("command") == "all");
  CHECK(doc.at("command_line").size() == 11);
  CHECK(doc.at("date").get<std::string>().size() == 20);
  const auto& host = doc.at("host");
  CHECK_FALSE(host.at("hostname").get<std::string>().empty());
  for (const char* key : {"driver_version", "runtime_version", "nccl_version", "cuda_compiled", "nccl_engine"}) CHECK_MESSAGE(host.contains(key), key);
  CHECK(host.at("backend") == "host");
  CHECK(host.at("emulated").get<bool>());
  const std::size_t g = host.at("shards").get<std::size_t>();
  CHECK(g == 3);
  REQUIRE(host.at("devices").size() == g);
  CHECK(host.at("devices")[2].at("bus_id") == "host");
  for (const char* key : {"tests", "backend", "samples", "direction", "minbytes", "maxbytes", "stepfactor", "iters", "warmup_iters",
                          "datatype", "op", "root", "verify", "min_bw_gbps"})
    CHECK_MESSAGE(doc.at("settings").contains(key), key);
  CHECK(doc.at("settings").at("verify").get<bool>());

  // Every test of the list has its entry, named by its key, verified where it moves data.
  const auto& tests = doc.at("tests");
  for (const auto& t : bench::test_list()) {
    CAPTURE(t.key);
    REQUIRE(tests.contains(t.key));
    if (t.key != "topology") CHECK(wrong_of(tests.at(t.key)) == 0);
  }
  CHECK(tests.at("topology").at("links")[0][1].at("route") == "peer");
  for (const char* key : {"p2p_bw_ce", "p2p_bidir_ce", "p2p_bw_sm", "p2p_bw_staged", "p2p_bidir_staged"})
    check_matrix(tests.at(key).at("panels").at("gbps").at("matrix"), g, g);
  check_matrix(tests.at("p2p_latency").at("panels").at("latency_us").at("matrix"), g, g);
  check_matrix(tests.at("p2p_latency").at("panels").at("host_latency_us").at("matrix"), g, g);
  CHECK(tests.at("p2p_latency").at("sync_us").get<double>() > 0);
  CHECK(tests.at("p2p_bw_ce").at("direction") == "write");
  check_matrix(tests.at("all_to_one_ce").at("panels").at("gbps").at("matrix"), 1, g);
  check_matrix(tests.at("h2d_ce").at("panels").at("gbps").at("matrix"), 1, g);
  check_matrix(tests.at("d2h_all_ce").at("panels").at("gbps").at("matrix"), 1, g + 1);  // + total
  for (const auto& name : bench::collective_names())
    for (auto& c : tests.at(name).at("points")) {
      CHECK(c.at("engine") == "shard");
      CHECK(c.at("datatype") == "float");
      const double t = c.at("time_us").at("value").get<double>();
      CHECK(t > 0);
      CHECK(c.at("algbw_gbps").get<double>() == doctest::Approx(c.at("bytes").get<double>() / t / 1e3));
      CHECK(c.at("busbw_gbps").get<double>() == doctest::Approx(c.at("algbw_gbps").get<double>() * bench::bus_factor(name, g)));
      CHECK(c.at("count").get<double>() * 4 == c.at("bytes").get<double>());
    }
  std::set<std::size_t> shard_counts;
  for (const char* key : {"transform", "reduce", "inclusive_scan", "sort_int32", "sort_int64", "sort_by_key", "merge_int32", "copy_if"})
    for (auto& a : tests.at(key).at("points")) {
      CAPTURE(key);
      shard_counts.insert(a.at("shards").get<std::size_t>());
      CHECK(a.at("time_us").at("value").get<double>() > 0);
      CHECK(a.at("throughput_gbps").get<double>() > 0);
      CHECK(a.at("efficiency").get<double>() > 0);
      const std::string k = key;
      if (k == "transform" || k == "reduce") CHECK(a.at("bytes_between_shards").get<double>() == 0);
      if (k == "reduce") CHECK(a.at("bytes_to_host").get<double>() == a.at("shards").get<double>() * sizeof(float));
      if ((k.rfind("sort", 0) == 0 || k == "merge_int32") && a.at("shards").get<int>() > 1) {
        CHECK(a.at("bytes_between_shards").get<double>() > 0);
        CHECK(a.at("host_syncs").get<int>() <= 4);
        CHECK(a.at("phases_us").contains(a.at("algorithm").get<std::string>().substr(0, a.at("algorithm").get<std::string>().find(' ')) +
                                         ".exchange_merge"));
      }
    }
  CHECK(shard_counts == std::set<std::size_t>{1, 2, 3});
  for (auto& r : doc.at("model").at("projections")) {
    CHECK(r.at("projected_us").get<double>() > 0);
    CHECK(r.at("measured_us").get<double>() > 0);
  }
  REQUIRE(doc.at("model").at("collectives").size() == 5);

  // The summary and the records; the CSV has one row per record, the same values.
  CHECK(doc.at("summary").at("wrong") == 0);
  CHECK(doc.at("summary").at("avg_bus_bandwidth_gbps").get<double>() > 0);
  const auto& records = doc.at("records");
  REQUIRE(records.size() > 100);
  std::istringstream csv(read(dir / "all.csv"));
  std::string line;
  std::getline(csv, line);
  CHECK(line == bench::csv_header());
  std::size_t rows = 0;
  while (std::getline(csv, line)) {
    REQUIRE(rows < records.size());
    const auto& r = records[rows];
    const std::string prefix = r.at("test").get<std::string>() + ",";
    CHECK(line.rfind(prefix, 0) == 0);
    CHECK(line.find("," + r.at("metric").get<std::string>() + ",") != std::string::npos);
    ++rows;
  }
  CHECK(rows == records.size());

  // One picture per test (two for the latency tests: the host-inclusive panel), well-formed.
  std::set<std::string> pictures;
  for (auto& f : fs::directory_iterator(dir / "svg")) {
    CAPTURE(f.path().string());
    CHECK(xml_problem(read(f.path())) == "");
    pictures.insert(f.path().stem().string());
  }
  for (const auto& t : bench::test_list())
    if (t.key != "topology") CHECK_MESSAGE(pictures.count(t.key) == 1, t.key);
  CHECK(pictures.size() == bench::test_list().size() - 1 + 2);
}

TEST_CASE("shard-bench: verification catches a corrupted transfer in every family") {
  const fs::path dir = scratch("verify");
  struct family {
    std::string command, key;
  };
  for (const family& f : {family{"p2p", "p2p_bw_ce"}, family{"p2p", "p2p_bidir_staged"}, family{"p2p", "one_to_all_ce"},
                          family{"host", "h2d_ce"}, family{"host", "d2h_all_ce"}, family{"collectives", "all_reduce"},
                          family{"collectives", "all_to_all"}}) {
    CAPTURE(f.key);
    const std::string sizes = f.command == "collectives" ? " -b 4K -e 16K -n 1" : " --bytes 64K --reps 1 --latency-reps 2";
    const std::string args = f.command + " --backend host -q -t " + f.key + sizes + " --json \"" + (dir / "v.json").string() + "\"";
    CHECK(shard_bench(args, dir / "v.log", "SHARD_BENCH_CORRUPT=" + f.key) == bench::exit_wrong);
    const std::string out = read(dir / "v.log");
    CHECK(out.find("verification failed: 1 bytes or elements wrong") != std::string::npos);
    CHECK(out.find("# Out of bounds values : 1 FAILED") != std::string::npos);
    const auto doc = read_json(dir / "v.json");
    CHECK(wrong_of(doc.at("tests").at(f.key)) == 1);
    CHECK(doc.at("summary").at("wrong") == 1);
    // --skip-verification: nothing checked, nothing reported wrong, exit 0.
    CHECK(shard_bench(args + " --skip-verification", dir / "v.log", "SHARD_BENCH_CORRUPT=" + f.key) == 0);
    CHECK(read(dir / "v.log").find("verification off") != std::string::npos);
    CHECK(wrong_of(read_json(dir / "v.json").at("tests").at(f.key)) == -1);
  }
  // Without the hook the same run is clean.
  CHECK(shard_bench("p2p --backend host -q -t p2p_bw_ce --bytes 64K --reps 1", dir / "v.log") == 0);
  CHECK(read(dir / "v.log").find("[#wrong: 0]") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("shard-bench: test selection, nccl-tests' options, samples, directions and --json -") {
  const fs::path dir = scratch("options");
  REQUIRE(shard_bench("-l", dir / "list.log") == 0);
  for (const auto& t : bench::test_list()) CHECK_MESSAGE(read(dir / "list.log").find(t.key) != std::string::npos, t.key);
  REQUIRE(shard_bench("host --list", dir / "list.log") == 0);
  CHECK(read(dir / "list.log").find("h2d_ce") != std::string::npos);
  CHECK(read(dir / "list.log").find("p2p_bw_ce") == std::string::npos);

  // -t runs exactly the named tests; --devices picks the shards; --samples keeps min/max/stdev.
  REQUIRE(shard_bench("p2p --backend host -q -t p2p_latency -t p2p_bw_sm --devices 0,2 --bytes 64K --reps 1 --latency-reps 3 "
                      "--samples 3 --direction read --json \"" + (dir / "p.json").string() + "\"",
                      dir / "p.log") == 0);
  auto doc = read_json(dir / "p.json");
  CHECK(doc.at("tests").size() == 2);
  CHECK(doc.at("host").at("shards") == 2);
  CHECK(doc.at("settings").at("devices") == std::vector<int>{0, 2});
  CHECK(doc.at("tests").at("p2p_bw_sm").at("direction") == "read");
  for (auto& r : doc.at("records")) {
    CHECK(r.at("samples") == 3);
    CHECK(r.at("min").get<double>() <= r.at("value").get<double>());
    CHECK(r.at("value").get<double>() <= r.at("max").get<double>());
  }
  // Collectives: -b -e -f sizes, -d type, -o op, -r root, -n and -w; every point verified.
  REQUIRE(shard_bench("collectives --backend host -q -b 1K -e 4K -f 2 -n 2 -w 0 -d int64 -o prod -r 1 -t all_reduce -t broadcast "
                      "-t reduce_scatter --json \"" + (dir / "c.json").string() + "\"",
                      dir / "c.log") == 0);
  doc = read_json(dir / "c.json");
  CHECK(doc.at("tests").size() == 3);
  for (const char* name : {"all_reduce", "broadcast", "reduce_scatter"}) {
    const auto& points = doc.at("tests").at(name).at("points");
    REQUIRE(points.size() == 3);  // 1K, 2K, 4K
    CHECK(points[0].at("datatype") == "int64");
    CHECK(points[0].at("op") == (std::string(name) == "broadcast" ? "" : "prod"));
    CHECK(points[0].at("root") == (std::string(name) == "broadcast" ? 1 : 0));
    CHECK(wrong_of(doc.at("tests").at(name)) == 0);
  }
  CHECK(doc.at("settings").at("iters") == 2);
  for (const char* name : {"all_reduce", "broadcast"}) {
    const auto& t = doc.at("tests").at(name);
    CHECK(t.at("iters") == 2);
    CHECK(t.at("warmup_iters") == 0);
    CHECK(t.at("stepfactor") == 2);
    CHECK(t.at("min_bytes") == 1024);
    CHECK(t.at("max_bytes") == 4096);
  }
  CHECK(read(dir / "c.log").find("root 1") != std::string::npos);
  for (const char* type : {"int32", "uint64", "double"})
    for (const char* op : {"sum", "min", "max"}) {
      CAPTURE(type);
      CAPTURE(op);
      CHECK(shard_bench(std::string("collectives --backend host -q -b 4K -e 4K -n 1 -t all_reduce -t reduce_scatter -d ") + type +
                            " -o " + op,
                        dir / "c.log") == 0);
    }

  // --json -: the JSON alone on stdout (the tables go to stderr).
  REQUIRE(shard_bench("algorithms --backend host --shards 2 -q -t reduce --min-elements 1K --max-elements 4K -n 1 --json -",
                      dir / "stdout.json", "", dir / "stderr.log") == 0);
  doc = read_json(dir / "stdout.json");
  REQUIRE(doc.at("tests").at("reduce").at("points").size() == 2 * 2);  // shards 1, 2 x sizes 1K, 4K
  for (auto& p : doc.at("tests").at("reduce").at("points")) CHECK(p.at("wrong") == 0);
  CHECK(read(dir / "stderr.log").find("== algorithms") != std::string::npos);

  REQUIRE(shard_bench("--version", dir / "v.log") == 0);
  CHECK(read(dir / "v.log").find("shard-bench 0.") != std::string::npos);
  REQUIRE(shard_bench("--help", dir / "h.log") == 0);
  CHECK(read(dir / "h.log").find("collectives") != std::string::npos);
  REQUIRE(shard_bench("help", dir / "h.log") == 0);
  CHECK(read(dir / "h.log").find("collectives") != std::string::npos);
  REQUIRE(shard_bench("p2p --help", dir / "h.log") == 0);
  CHECK(read(dir / "h.log").find("--direction") != std::string::npos);
  CHECK(read(dir / "h.log").find("--datatype") == std::string::npos);  // a collectives option
  fs::remove_all(dir);
}

TEST_CASE("shard-bench: --min-bw, --baseline, the model, and bad command lines") {
  const fs::path dir = scratch("thresholds");
  const std::string p2p = "p2p --backend host -q --bytes 64K --reps 1 --latency-reps 2 ";
  REQUIRE(shard_bench(p2p + "--json \"" + (dir / "old.json").string() + "\"", dir / "p.log") == 0);
  CHECK(read(dir / "p.log").find("# Avg bus bandwidth") != std::string::npos);
  CHECK(shard_bench(p2p + "-t p2p_bw_ce --min-bw 0.001", dir / "p.log") == 0);
  CHECK(shard_bench(p2p + "-t p2p_bw_ce --min-bw 1000000", dir / "p.log") == bench::exit_below_min_bw);
  CHECK(read(dir / "p.log").find("is below --min-bw") != std::string::npos);
  // A run without any bandwidth cannot meet a threshold.
  CHECK(shard_bench(p2p + "-t p2p_latency --min-bw 1", dir / "p.log") == bench::exit_below_min_bw);

  REQUIRE(shard_bench(p2p + "-t p2p_bw_ce --baseline \"" + (dir / "old.json").string() + "\" --json \"" + (dir / "new.json").string() + "\"",
                      dir / "b.log") == 0);
  CHECK(read(dir / "b.log").find("== baseline: ") != std::string::npos);
  CHECK(read(dir / "b.log").find("now/baseline") != std::string::npos);
  const auto doc = read_json(dir / "new.json");
  CHECK(doc.at("baseline").at("comparison").size() == 9);  // the 3 x 3 matrix of p2p_bw_ce
  for (auto& c : doc.at("baseline").at("comparison")) CHECK(c.at("ratio").get<double>() > 0);
  {
    std::ofstream bad(dir / "bad.json");
    bad << "[1-2]";
  }
  CHECK(shard_bench(p2p + "--baseline \"" + (dir / "bad.json").string() + "\"", dir / "b.log") == bench::exit_error);
  CHECK(read(dir / "b.log").find("bad.json") != std::string::npos);
  CHECK(shard_bench(p2p + "--baseline /nonexistent.json", dir / "b.log") == bench::exit_error);
  CHECK(read(dir / "b.log").find("cannot read /nonexistent.json") != std::string::npos);

  // The model, from this run's p2p figures, from the machine it wrote, and from a preset.
  REQUIRE(shard_bench("model --from-measured \"" + (dir / "old.json").string() + "\" --elements 4096 --out \"" +
                          (dir / "machine.json").string() + "\" --json \"" + (dir / "model.json").string() + "\"",
                      dir / "model.log") == 0);
  CHECK(bench::machine_from_json(read_json(dir / "machine.json")).gpus == 3);
  CHECK(read_json(dir / "model.json").at("model").at("projections").size() >= 2);
  REQUIRE(shard_bench("model --machine \"" + (dir / "machine.json").string() + "\" --quick", dir / "model2.log") == 0);
  REQUIRE(shard_bench("model --preset pcie-4gpu --quick", dir / "preset.log") == 0);
  CHECK(read(dir / "preset.log").find("PCIe") != std::string::npos);
  CHECK(shard_bench("model --machine /nonexistent.json", dir / "bad.log") == bench::exit_error);
  CHECK(read(dir / "bad.log").find("cannot read /nonexistent.json") != std::string::npos);

  // Bad command lines: a clear message naming the mistake, exit status 2.
  struct bad_case {
    std::string args, message;
  };
  for (const bad_case& c : {bad_case{"frobnicate", "frobnicate"}, bad_case{"", "no command given"},
                            bad_case{"p2p --bytes lots", "--bytes: \"lots\" is not a size"},
                            bad_case{"p2p --shards 4K", "--shards: \"4K\" is not a count"},
                            bad_case{"p2p --shards 0", "--shards: 0 is less than 1"},
                            bad_case{"collectives -f 1", "-f/--stepfactor: 1 is less than 2"},
                            bad_case{"collectives -n 0", "-n/--iters: 0 is less than 1"},
                            bad_case{"collectives -b 1M -e 1K", "-b/--minbytes is larger than -e/--maxbytes"},
                            bad_case{"collectives -d float16", "float16"}, bad_case{"collectives -o avg", "avg"},
                            bad_case{"collectives --backend host -r 7 -b 1K -e 1K", "-r/--root: 7 is not a shard"},
                            bad_case{"p2p --direction sideways", "sideways"}, bad_case{"p2p -t nope", "unknown test \"nope\""},
                            bad_case{"p2p -t all_reduce", "belongs to shard-bench collectives"},
                            bad_case{"p2p --devices 0,0", "--devices: 0 is named twice"},
                            bad_case{"p2p --devices 0,x", "--devices: \"x\" is not a count"},
                            bad_case{"p2p --devices 0 --shards 2", "give --shards or --devices, not both"},
                            bad_case{"topo --backend tpu", "tpu"}, bad_case{"model", "give exactly one of"},
                            bad_case{"p2p --samples 0", "--samples: 0 is less than 1"},
                            bad_case{"p2p --min-bw -3", "--min-bw"}, bad_case{"p2p --frobnicate", "--frobnicate"}}) {
    CAPTURE(c.args);
    CHECK(shard_bench(c.args, dir / "bad.log") == bench::exit_usage);
    CHECK(read(dir / "bad.log").find(c.message) != std::string::npos);
  }
  fs::remove_all(dir.parent_path());
}
