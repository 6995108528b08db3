#pragma once
// What one generation step produced and cost: an immutable value handed across threads as
// std::shared_ptr<const StepResult>. It holds no pointer into the engine's buffers; attention rows
// are immutable shared blocks that the engine never writes again.

#include "run/attention_capture.h"
#include "cost/bytes_moved.h"
#include "cost/flops.h"
#include "run/sampler.h"

#include <QByteArray>
#include <QMetaType>
#include <QString>

#include <cstdint>
#include <memory>
#include <vector>

namespace kvscope {

enum class StopReason { None, MaxTokens, ContextFull, EndOfText, Cancelled };
const char* stopReasonName(StopReason r);

struct StepResult {
    std::uint64_t runId = 0;
    Mode mode = Mode::Cached;
    int step = 0;      // 0 for the first generated token
    int position = 0;  // index of the generated token = tokens the forward pass saw
    int promptLength = 0;
    bool prefill = false;  // cached mode's first step: the whole prompt in one pass

    int token = -1;
    QByteArray tokenBytes;  // raw bytes, possibly a partial UTF-8 character
    QString tokenText;      // printable form
    SampleSummary sample;

    int firstComputedRow = 0;  // the forward pass computed query rows [firstComputedRow, position)
    std::vector<AttentionRowPtr> attention;  // those rows, when capture is on
    float recomputeMaxDiff = -1;  // naive: largest change of a recomputed row; -1 when none

    FlopBreakdown flops;                 // counted while executing this step
    BytesMoved bytes;                    // what the step's forward pass moved (bytes_moved.h)
    FlopBreakdown cumulative;            // this run so far, this step included
    double milliseconds = 0;             // wall time of the forward pass and sampling
    std::int64_t kvCacheBytes = 0;       // held after this step (0 in naive mode: nothing is kept)
    StopReason stop = StopReason::None;  // set on the run's last step
};

using StepResultPtr = std::shared_ptr<const StepResult>;

}  // namespace kvscope

Q_DECLARE_METATYPE(kvscope::StepResultPtr)
