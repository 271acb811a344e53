// Instruction following: generator (compatible constraint sets only), a solver that writes a
// compliant note from the topic's sentence, and the constraint checker.
#include "tasks/instruction.h"

#include <algorithm>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "base/rng.h"

namespace kiln::tasks {
namespace {

struct Topic {
  const char* name;
  const char* sentence;  // at least 20 words, no commas
};

constexpr Topic kTopics[] = {
    {"tea",
     "tea is a drink made by soaking dried leaves in hot water and people around the world "
     "enjoy a cup of it every single day"},
    {"the moon",
     "the moon circles our planet about once a month and its pale light changes shape "
     "as the sun lights different parts of its surface"},
    {"bicycles",
     "a bicycle turns the push of your feet into motion with two wheels a chain and a "
     "frame that together make riding quiet cheap and healthy"},
    {"libraries",
     "a library lends books to anyone who asks and gives people a calm place to read "
     "study and learn new things for free all year"},
    {"rain",
     "rain falls when tiny drops in clouds join into bigger drops that grow too heavy to "
     "float and then water the fields rivers and gardens below"},
    {"bees",
     "bees visit flowers to collect nectar and pollen and while they do so they carry pollen "
     "from plant to plant which helps fruit and seeds grow"},
    {"chess",
     "chess is a board game for two players who move sixteen pieces each and try to trap "
     "the other king with careful planning and patience"},
    {"bread",
     "bread is baked from flour water salt and yeast and the yeast makes gas that lifts the "
     "dough so the loaf comes out soft and light"},
};

constexpr const char* kKeys[] = {"summary", "note", "answer", "text"};
constexpr const char* kEndings[] = {"That is all.", "Thank you for reading.", "The end.",
                                    "Have a nice day."};

std::vector<std::string> Words(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

std::string Upper(std::string s) {
  for (char& c : s) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return s;
}

std::string Describe(const Json& c) {
  std::string k = c.at("kind").get<std::string>();
  if (k == "caps") return "Your entire response must be in capital letters.";
  if (k == "words") return absl::StrCat("Use exactly ", c.at("n").get<int>(), " words.");
  if (k == "json_key") {
    return absl::StrCat("Answer with a JSON object that has the key \"",
                        c.at("key").get<std::string>(), "\".");
  }
  if (k == "no_commas") return "Do not use any commas.";
  return absl::StrCat("End your response with the exact phrase \"",
                      c.at("phrase").get<std::string>(), "\".");
}

class Instruction : public Task {
 public:
  std::string name() const override { return "instruction"; }
  int min_difficulty() const override { return 1; }
  int max_difficulty() const override { return 3; }
  std::string difficulty_help() const override { return "how many constraints, 1 to 3"; }

  std::string Prompt(const Instance& inst) const override {
    std::string p =
        absl::StrCat("Write a short note about ", inst.spec.at("topic").get<std::string>(), ".");
    for (const auto& c : inst.spec.at("constraints")) absl::StrAppend(&p, " ", Describe(c));
    return p;
  }
  std::optional<std::string> ExtractAnswer(const std::string& response) const override {
    std::string t = Trim(AfterLastThink(response));
    if (t.empty()) return std::nullopt;
    return t;
  }
  Score ScoreResponse(const Instance& inst, const std::string& response) const override {
    Score s;
    auto text = ExtractAnswer(response);
    if (!text) return s;
    s.formatted = true;
    auto ok = CheckConstraints(inst.spec.at("constraints"), *text);
    int met = static_cast<int>(std::count(ok.begin(), ok.end(), true));
    s.reward = ok.empty() ? 1.0 : static_cast<double>(met) / ok.size();
    s.correct = met == static_cast<int>(ok.size());
    return s;
  }

 protected:
  Json MakeSpec(uint64_t seed, int difficulty) const override {
    RngStream rng(seed);
    const Topic& topic = kTopics[rng.UniformInt(std::size(kTopics))];
    // json_key goes only with no_commas: the others would fight the JSON syntax.
    std::vector<std::string> kinds = {"caps", "words", "json_key", "no_commas", "ends_with"};
    std::vector<std::string> chosen;
    while (static_cast<int>(chosen.size()) < difficulty) {
      const std::string& k = kinds[rng.UniformInt(kinds.size())];
      if (std::find(chosen.begin(), chosen.end(), k) != chosen.end()) continue;
      bool has_json = std::find(chosen.begin(), chosen.end(), "json_key") != chosen.end();
      if ((has_json && k != "no_commas") ||
          (k == "json_key" && !chosen.empty() && (chosen.size() > 1 || chosen[0] != "no_commas"))) {
        continue;
      }
      if (k == "json_key" && difficulty == 3) continue;
      chosen.push_back(k);
    }
    bool caps = std::find(chosen.begin(), chosen.end(), "caps") != chosen.end();
    Json cs = Json::array();
    for (const auto& k : chosen) {
      Json c{{"kind", k}};
      if (k == "words") c["n"] = 6 + static_cast<int>(rng.UniformInt(15));
      if (k == "json_key") c["key"] = kKeys[rng.UniformInt(std::size(kKeys))];
      if (k == "ends_with") {
        std::string p = kEndings[rng.UniformInt(std::size(kEndings))];
        c["phrase"] = caps ? Upper(p) : p;
      }
      cs.push_back(c);
    }
    return Json{{"topic", topic.name}, {"sentence", topic.sentence}, {"constraints", cs}};
  }

  std::string WriteShort(const Instance& inst) const override {
    const Json& cs = inst.spec.at("constraints");
    auto words = Words(inst.spec.at("sentence").get<std::string>());
    std::string phrase, key;
    int n = -1;
    bool caps = false;
    for (const auto& c : cs) {
      std::string k = c.at("kind").get<std::string>();
      if (k == "caps") caps = true;
      if (k == "words") n = c.at("n").get<int>();
      if (k == "ends_with") phrase = c.at("phrase").get<std::string>();
      if (k == "json_key") key = c.at("key").get<std::string>();
    }
    int keep = n >= 0 ? n - static_cast<int>(Words(phrase).size()) : 12;
    keep = std::clamp(keep, 0, static_cast<int>(words.size()));
    std::string text;
    for (int i = 0; i < keep; ++i) absl::StrAppend(&text, i ? " " : "", words[i]);
    if (!text.empty()) {
      text[0] = static_cast<char>(text[0] >= 'a' && text[0] <= 'z' ? text[0] - 'a' + 'A' : text[0]);
      text += '.';
    }
    if (!phrase.empty()) text = text.empty() ? phrase : absl::StrCat(text, " ", phrase);
    if (caps) text = Upper(text);
    if (!key.empty()) text = Json{{key, text}}.dump();
    return text;
  }
  std::string WriteCot(const Instance& inst, const TraceOptions&) const override {
    std::string body = "The note must follow these rules:";
    for (const auto& c : inst.spec.at("constraints")) absl::StrAppend(&body, " ", Describe(c));
    absl::StrAppend(&body, "\nI write about ", inst.spec.at("topic").get<std::string>(),
                    " and check each rule before answering.\n");
    return ThinkThen(body, WriteShort(inst));
  }
};

}  // namespace

std::vector<bool> CheckConstraints(const Json& constraints, const std::string& raw) {
  std::string text = Trim(raw);
  std::vector<bool> out;
  for (const auto& c : constraints) {
    std::string k = c.at("kind").get<std::string>();
    bool ok = false;
    if (k == "caps") {
      bool letter = false, lower = false;
      for (char ch : text) {
        letter |= (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z');
        lower |= ch >= 'a' && ch <= 'z';
      }
      ok = letter && !lower;
    } else if (k == "words") {
      ok = static_cast<int>(Words(text).size()) == c.at("n").get<int>();
    } else if (k == "json_key") {
      Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
      ok = !j.is_discarded() && j.is_object() && j.contains(c.at("key").get<std::string>());
    } else if (k == "no_commas") {
      ok = text.find(',') == std::string::npos;
    } else if (k == "ends_with") {
      std::string p = c.at("phrase").get<std::string>();
      ok = text.size() >= p.size() && text.compare(text.size() - p.size(), p.size(), p) == 0;
    } else {
      KILN_CHECK(false) << "CheckConstraints: unknown constraint kind '" << k << "'";
    }
    out.push_back(ok);
  }
  return out;
}

std::unique_ptr<Task> MakeInstructionTask() { return std::make_unique<Instruction>(); }

}  // namespace kiln::tasks
