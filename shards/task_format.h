// task_format.h — the text format shared by the task generators, the built-in corpus, the
// rollout stage (which branches at step markers and stops at the answer marker) and the
// verifiers (which read the answer after the marker).
//
// A worked solution, as the model sees it:
//
//   <prompt>                         e.g. "Compute (12 + 7) * 3 - 5.\n"
//   <|step|>12 + 7 = 19\n            one reasoning step per line, each opened by the step marker
//   <|step|>19 * 3 = 57\n
//   <|step|>57 - 5 = 52\n
//   <|answer|>52\n                   the final answer: the marker, the answer, a newline
//   <|endoftext|>
//
// For code tasks the answer is a Python function: everything after the answer marker up
// to the end-of-text token.
#pragma once

#define BERRY_EOT "<|endoftext|>"
#define BERRY_STEP "<|step|>"
#define BERRY_ANSWER "<|answer|>"
