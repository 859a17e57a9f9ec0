// shard-bench: its JSON and SVG writers, the cost model, and the tool itself run on the
// host backend (the executable named by SHARD_BENCH_EXE): every subcommand, its JSON
// parsed and its fields checked, every SVG file checked to be well-formed XML.
#include "../support/test_support.hpp"

#include "collectives.hpp"
#include "json.hpp"
#include "model.hpp"
#include "svg.hpp"

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

/// Runs shard-bench with `args`; returns its exit code. Output goes to `log`.
int shard_bench(const std::string& args, const fs::path& log) {
  const char* exe = std::getenv("SHARD_BENCH_EXE");
  REQUIRE_MESSAGE(exe != nullptr, "SHARD_BENCH_EXE names the shard-bench executable under test");
  const std::string command = std::string("SHARD_HOST_DEVICES=3 \"") + exe + "\" " + args + " >\"" + log.string() + "\" 2>&1";
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

fs::path scratch(const std::string& name) {
  const fs::path p = fs::temp_directory_path() / ("shard_bench_test_" + std::to_string(::getpid())) / name;
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

void check_matrix(const bench::json::value& m, std::size_t g) {
  REQUIRE(m.is_array());
  REQUIRE(m.size() == g);
  for (auto& row : m.items()) {
    REQUIRE(row.size() == g);
    for (auto& x : row.items()) CHECK(x.as_number() > 0);
  }
}

}  // namespace

TEST_CASE("json: values round-trip through the writer and the parser") {
  bench::json::value v;
  v["name"] = "a \"quoted\"\tname\n";
  v["n"] = 12345678901234.0;
  v["x"] = 0.125;
  v["neg"] = -3;
  v["flag"] = true;
  v["none"] = nullptr;
  v["list"] = std::vector<double>{1, 2.5, 3};
  v["nested"]["deep"] = bench::json::value::array();
  v["nested"]["deep"].push(bench::json::value::object())["k"] = "v";
  const auto back = bench::json::parse(v.dump());
  CHECK(back.at("name").as_string() == "a \"quoted\"\tname\n");
  CHECK(back.at("n").as_number() == 12345678901234.0);
  CHECK(back.at("x").as_number() == 0.125);
  CHECK(back.at("neg").as_number() == -3);
  CHECK(back.at("flag").as_bool());
  CHECK(back.at("none").is_null());
  CHECK(back.at("list").items()[1].as_number() == 2.5);
  CHECK(back.at("nested").at("deep").items()[0].at("k").as_string() == "v");
  CHECK(back.dump() == v.dump());
}

TEST_CASE("json: malformed text is rejected with its offset") {
  CHECK_THROWS_WITH(bench::json::parse("{\"a\": }"), doctest::Contains("offset 6"));
  CHECK_THROWS_WITH(bench::json::parse("[1, 2"), doctest::Contains("expected ']'"));
  CHECK_THROWS_WITH(bench::json::parse("{} x"), doctest::Contains("trailing"));
  CHECK_THROWS_WITH(bench::json::parse("\"abc"), doctest::Contains("unterminated"));
  CHECK_THROWS_WITH(bench::json::parse("{\"a\": 1}").at("b"), doctest::Contains("missing member \"b\""));
}

TEST_CASE("svg: heatmaps and line plots are well-formed and escape their text") {
  const std::string h = bench::svg::heatmap("A <b> & \"c\"", "GB/s", {{1, 2}, {3, NAN}});
  CHECK(xml_problem(h) == "");
  CHECK(h.find("A &lt;b&gt; &amp; &quot;c&quot;") != std::string::npos);
  const std::string l = bench::svg::line_plot("t & u", "x", "y", {{"s1", {{1024, 1}, {4096, 2}}}, {"s<2>", {{2048, 0.5}}}});
  CHECK(xml_problem(l) == "");
  CHECK(xml_problem(bench::svg::line_plot("empty", "x", "y", {}, true)) == "");
  // The checker itself catches what it should.
  CHECK(xml_problem("<svg><g></svg>") != "");
  CHECK(xml_problem("<svg a=\"1 & 2\"/>") != "");
  CHECK(xml_problem("<svg/><svg/>") != "");
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
  REQUIRE(phases.size() == 5);
  CHECK(phases[0].us == doctest::Approx(4.0));             // 4 MB at 1000 GB/s
  CHECK(phases[1].us == doctest::Approx(6.0));             // 2 launches x 3 us
  CHECK(phases[2].us == doctest::Approx(1.0 + 2.0));       // 100 kB at 100 GB/s + 2 us
  CHECK(phases[3].us == doctest::Approx(2.0 + 5.0));       // 20 kB at 10 GB/s + 5 us
  CHECK(phases[4].us == doctest::Approx(21.0));            // 3 syncs x 7 us
  CHECK(bench::total_us(phases) == doctest::Approx(4 + 6 + 3 + 7 + 21));
  // Collectives: collective latency + size x busbw factor / slowest link (100 GB/s).
  CHECK(bench::project_collective(m, "all_reduce", 100'000).projected_us == doctest::Approx(11 + 1.0));   // factor 1
  CHECK(bench::project_collective(m, "all_gather", 100'000).projected_us == doctest::Approx(11 + 0.5));   // factor 1/2
  CHECK(bench::project_collective(m, "broadcast", 100'000).projected_us == doctest::Approx(11 + 1.0));    // factor 1
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
  bad["link_latency_us"] = 3.0;  // one number: every pair
  CHECK(bench::machine_from_json(bad).link_latency_us == std::vector<double>(64, 3.0));

  const auto p2p = bench::json::parse(R"({"p2p": {"sync_us": 9, "launch_us": 2,
      "peer":   {"unidirectional_gbps": [[100, 40], [40, 100]], "latency_us": [[1, 3], [3, 1]]},
      "staged": {"unidirectional_gbps": [[100, 10], [10, 100]], "latency_us": [[1, 20], [20, 1]]}}})");
  const auto m = bench::machine_from_p2p(p2p, "measured");
  CHECK(m.gpus == 2);
  CHECK(m.memory_bandwidth_gbps == 200);
  CHECK(m.link_gbps == std::vector<double>{100, 40, 40, 100});
  CHECK(m.host_bandwidth_gbps == 10);
  CHECK(m.host_latency_us == 10);
  CHECK(m.sync_latency_us == 9);
  CHECK(m.launch_latency_us == 2);
  // The projection of the presets: transform moves nothing between shards, reduce a partial per shard.
  const auto rows = bench::run_model(dgx, 1 << 16);
  REQUIRE(rows.size() >= 2);
  CHECK(rows[0].algorithm == "transform (float32)");
  CHECK(rows[0].phases[2].us == 0);
  CHECK(rows[1].phases[3].us > 0);
}

TEST_CASE("shard-bench: every subcommand runs on emulated devices and writes JSON and SVG") {
  const fs::path dir = scratch("all");
  REQUIRE(shard_bench("all --quick --backend host --json \"" + (dir / "all.json").string() + "\" --svg \"" +
                          (dir / "svg").string() + "\"",
                      dir / "all.log") == 0);
  const std::string out = read(dir / "all.log");
  CHECK(out.find("emulated devices") != std::string::npos);
  for (const char* section : {"== topology", "== p2p", "== collectives", "== algorithms", "== model"})
    CHECK_MESSAGE(out.find(section) != std::string::npos, section);
  const auto doc = bench::json::parse(read(dir / "all.json"));
  CHECK(doc.at("tool").as_string() == "shard-bench");
  CHECK(doc.at("backend").as_string() == "host");
  CHECK(doc.at("emulated").as_bool());
  const std::size_t g = static_cast<std::size_t>(doc.at("shards").as_number());
  CHECK(g == 3);
  CHECK(doc.at("topology").at("shards").size() == g);
  CHECK(doc.at("topology").at("links").items()[0].items()[1].at("route").as_string() == "peer");
  for (const char* mode : {"peer", "staged"})
    for (const char* m : {"unidirectional_gbps", "bidirectional_gbps", "latency_us"}) check_matrix(doc.at("p2p").at(mode).at(m), g);
  CHECK(doc.at("p2p").at("sync_us").as_number() > 0);
  std::set<std::string> collectives;
  for (auto& c : doc.at("collectives").items()) {
    collectives.insert(c.at("collective").as_string());
    CHECK(c.at("engine").as_string() == "shard");
    CHECK(c.at("time_us").as_number() > 0);
    CHECK(c.at("algbw_gbps").as_number() == doctest::Approx(c.at("bytes").as_number() / c.at("time_us").as_number() / 1e3));
    CHECK(c.at("busbw_gbps").as_number() ==
          doctest::Approx(c.at("algbw_gbps").as_number() * bench::bus_factor(c.at("collective").as_string(), g)));
  }
  CHECK(collectives == std::set<std::string>{"all_reduce", "all_gather", "reduce_scatter", "all_to_all", "broadcast"});
  std::set<std::size_t> shard_counts;
  std::set<std::string> algorithms;
  for (auto& a : doc.at("algorithms").items()) {
    shard_counts.insert(static_cast<std::size_t>(a.at("shards").as_number()));
    CHECK(a.at("throughput_gbps").as_number() > 0);
    CHECK(a.at("efficiency").as_number() > 0);
    const std::string name = a.at("algorithm").as_string();
    algorithms.insert(name);
    if (name == "transform (float32)" || name == "reduce (float32)")  // nothing between shards
      CHECK(a.at("bytes_between_shards").as_number() == 0);
    if (name == "reduce (float32)") CHECK(a.at("bytes_to_host").as_number() == a.at("shards").as_number() * sizeof(float));
    if (name.rfind("sort", 0) == 0 && a.at("shards").as_number() > 1) {
      CHECK(a.at("bytes_between_shards").as_number() > 0);
      CHECK(a.at("host_syncs").as_number() <= 4);
      CHECK(a.at("phases_us").contains(name.substr(0, name.find(' ')) + ".exchange_merge"));
    }
  }
  CHECK(shard_counts == std::set<std::size_t>{1, 2, 3});
  CHECK(algorithms == std::set<std::string>{"transform (float32)", "reduce (float32)", "inclusive_scan (int64)",
                                            "sort (int32 keys)", "sort (int64 keys)",
                                            "sort_by_key (int32 keys, int32 values)", "copy_if (int32, half kept)"});
  for (auto& r : doc.at("model").at("projections").items()) {
    CHECK(r.at("projected_us").as_number() > 0);
    CHECK(r.at("measured_us").as_number() > 0);
  }
  REQUIRE(doc.at("model").at("collectives").size() == 5);
  for (auto& c : doc.at("model").at("collectives").items()) {
    CHECK(c.at("projected_us").as_number() > 0);
    CHECK(c.at("measured_us").at("shard").as_number() > 0);
  }
  std::size_t pictures = 0;
  for (auto& f : fs::directory_iterator(dir / "svg")) {
    CAPTURE(f.path().string());
    CHECK(xml_problem(read(f.path())) == "");
    ++pictures;
  }
  CHECK(pictures == 10);
}

TEST_CASE("shard-bench: single subcommands, the model from measured figures, and bad input") {
  const fs::path dir = scratch("single");
  REQUIRE(shard_bench("topo --backend host --shards 2 --json \"" + (dir / "topo.json").string() + "\"", dir / "topo.log") == 0);
  const auto topo = bench::json::parse(read(dir / "topo.json"));
  CHECK(topo.at("shards").as_number() == 2);
  CHECK_FALSE(topo.contains("p2p"));
  REQUIRE(shard_bench("p2p --backend host --bytes 64K --reps 2 --latency-reps 5 --json \"" + (dir / "p2p.json").string() + "\"",
                      dir / "p2p.log") == 0);
  const auto p2p = bench::json::parse(read(dir / "p2p.json"));
  CHECK(p2p.at("p2p").at("bytes").as_number() == 65536);
  check_matrix(p2p.at("p2p").at("peer").at("unidirectional_gbps"), 3);
  REQUIRE(shard_bench("collectives --backend host --min-bytes 4K --max-bytes 64K --reps 1 --json \"" +
                          (dir / "coll.json").string() + "\"",
                      dir / "coll.log") == 0);
  const auto coll = bench::json::parse(read(dir / "coll.json"));
  CHECK(coll.at("collectives").size() == 5 * 3);  // 5 collectives x 3 sizes (4K, 16K, 64K), one engine
  CHECK_FALSE(coll.contains("algorithms"));
  REQUIRE(shard_bench("algorithms --backend host --shards 2 --min-elements 1K --max-elements 4K --reps 1 --json \"" +
                          (dir / "alg.json").string() + "\"",
                      dir / "alg.log") == 0);
  const auto alg = bench::json::parse(read(dir / "alg.json"));
  CHECK(alg.at("algorithms").size() == 7 * 2 * 2);  // 7 algorithm cases x shards 1, 2 x 2 sizes
  CHECK(read(dir / "alg.log").find("efficiency") != std::string::npos);
  REQUIRE(shard_bench("model --from-measured \"" + (dir / "p2p.json").string() + "\" --elements 4096 --out \"" +
                          (dir / "machine.json").string() + "\" --json \"" + (dir / "model.json").string() + "\"",
                      dir / "model.log") == 0);
  const auto machine = bench::machine_from_json(bench::json::parse(read(dir / "machine.json")));
  CHECK(machine.gpus == 3);
  const auto model = bench::json::parse(read(dir / "model.json"));
  CHECK(model.at("model").at("projections").size() >= 2);
  REQUIRE(shard_bench("model --machine \"" + (dir / "machine.json").string() + "\" --quick", dir / "model2.log") == 0);
  REQUIRE(shard_bench("model --preset pcie-4gpu --quick", dir / "preset.log") == 0);
  CHECK(read(dir / "preset.log").find("PCIe") != std::string::npos);

  CHECK(shard_bench("frobnicate", dir / "bad.log") == 2);
  CHECK(read(dir / "bad.log").find("unknown command \"frobnicate\"") != std::string::npos);
  CHECK(shard_bench("p2p --bytes lots", dir / "bad.log") == 2);
  CHECK(read(dir / "bad.log").find("--bytes: \"lots\" is not a size") != std::string::npos);
  CHECK(shard_bench("model", dir / "bad.log") == 2);
  CHECK(shard_bench("model --machine /nonexistent.json", dir / "bad.log") == 1);
  CHECK(read(dir / "bad.log").find("cannot read /nonexistent.json") != std::string::npos);
  CHECK(shard_bench("topo --backend tpu", dir / "bad.log") == 2);
  fs::remove_all(dir.parent_path());
}
