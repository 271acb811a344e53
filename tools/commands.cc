// The subcommand table: one row per subcommand, each implemented in tools/cmd_<name>.cc.
#include "tools/command.h"

namespace kiln::tools {

int RunDemo(const std::vector<std::string>& args);
int RunVersion(const std::vector<std::string>& args);
int RunData(const std::vector<std::string>& args);
int RunGenerate(const std::vector<std::string>& args);
int RunTokenizer(const std::vector<std::string>& args);
int RunTrain(const std::vector<std::string>& args);
int RunSft(const std::vector<std::string>& args);
int RunForward(const std::vector<std::string>& args);
int RunEval(const std::vector<std::string>& args);

const std::vector<Command>& Commands() {
  static const std::vector<Command> kCommands = {
      {"demo", "the study in miniature: data, pretrain, SFT, checkpoint sweep, report (main job)",
       &RunDemo},
      {"version", "print kiln's version and build facts", &RunVersion},
      {"data", "make task datasets, mixtures and statistics", &RunData},
      {"generate", "sample from a model folder", &RunGenerate},
      {"tokenizer", "train a byte-level BPE; encode / decode files (byte, gpt2, saved JSON)",
       &RunTokenizer},
      {"train", "pretrain a GPT-2 / Llama model from a run config; resume bit for bit", &RunTrain},
      {"sft", "fine-tune a model folder on a chat JSONL (response-only loss, log-spaced checkpoints)",
       &RunSft},
      {"forward", "a model's logits for token ids, or per-token losses of a text, as JSON",
       &RunForward},
      {"eval", "evaluate a model on the suites (avg@k, pass@k, maj@k, CIs); --sweep for a run",
       &RunEval},
  };
  return kCommands;
}

}  // namespace kiln::tools
