#include "run/generation_session.h"

#include <QElapsedTimer>

#include <algorithm>
#include <cmath>

namespace kvscope {

const char* stopReasonName(StopReason r) {
    switch (r) {
        case StopReason::None:
            return "running";
        case StopReason::MaxTokens:
            return "max-tokens";
        case StopReason::ContextFull:
            return "context-full";
        case StopReason::EndOfText:
            return "end-of-text";
        case StopReason::Cancelled:
            return "cancelled";
    }
    return "unknown";
}

float maxAbsDifference(std::span<const float> a, std::span<const float> b) {
    float m = 0;
    for (std::size_t i = 0; i < a.size() && i < b.size(); ++i)
        m = std::max(m, std::abs(a[i] - b[i]));
    return m;
}

GenerationSession::GenerationSession(ModelPtr model)
    : model_(std::move(model)),
      state_(model_->transformer->newState()),
      capture_(model_->config),
      sampler_(SamplerSettings{}, model_->config.vocabSize),
      logits_(model_->config.vocabSize) {
    tokens_.reserve(model_->config.nPositions);
}

Result<bool> GenerationSession::start(std::vector<int> promptIds,
                                      const GenerationSettings& settings, std::uint64_t runId) {
    const int ctx = model_->config.nPositions;
    if (promptIds.empty()) {
        // Start from BOS when the vocabulary has one, else from end-of-text (GPT-2's start).
        const SpecialTokens special = model_->tokenizer->special();
        const int first = special.bos >= 0 ? special.bos : special.eot;
        if (first < 0)
            return Error{
                QStringLiteral("The prompt is empty and the model's vocabulary has neither a "
                               "beginning-of-sequence nor an <|endoftext|> token to start from.")};
        promptIds.push_back(first);
    }
    if (int(promptIds.size()) >= ctx)
        return Error{QStringLiteral("The prompt has %1 tokens but the model's context holds %2: "
                                    "shorten it to at most %3 tokens to leave room for one new "
                                    "token.")
                         .arg(promptIds.size())
                         .arg(ctx)
                         .arg(ctx - 1)};
    for (int id : promptIds) {
        if (id < 0 || id >= model_->config.vocabSize)
            return Error{QStringLiteral("Prompt token id %1 is outside the vocabulary [0, %2).")
                             .arg(id)
                             .arg(model_->config.vocabSize)};
    }
    settings_ = settings;
    setComputeThreads(settings.threads);
    sampler_ = Sampler(settings.sampler, model_->config.vocabSize);
    tokens_.assign(promptIds.begin(), promptIds.end());
    promptLength_ = int(promptIds.size());
    generated_ = 0;
    cumulative_ = {};
    capture_.reset();
    cancel_.store(false);
    runId_ = runId;
    stop_ = settings.maxNewTokens > 0 ? StopReason::None : StopReason::MaxTokens;
    return true;
}

StopReason GenerationSession::limitReached() const {
    if (generated_ >= settings_.maxNewTokens) return StopReason::MaxTokens;
    // The newest token needs a position embedding to be fed back: a full context ends the run.
    if (int(tokens_.size()) >= model_->config.nPositions) return StopReason::ContextFull;
    if (settings_.stopAtEndOfText && tokens_.back() == model_->tokenizer->endId() && generated_ > 0)
        return StopReason::EndOfText;
    return StopReason::None;
}

StepResultPtr GenerationSession::step() {
    if (stop_ != StopReason::None) return nullptr;
    QElapsedTimer timer;
    timer.start();
    const int n = int(tokens_.size());
    const bool naive = settings_.mode == Mode::Naive;
    const int first = naive || generated_ == 0 ? 0 : n - 1;

    auto r = std::make_shared<StepResult>();
    ForwardHooks hooks{settings_.captureAttention ? &capture_ : nullptr, &cancel_};
    if (settings_.captureAttention) capture_.beginStep(first, n);
    if (!model_->transformer->forward(*state_, tokens_, first, hooks, r->flops, logits_)) {
        stop_ = StopReason::Cancelled;
        return nullptr;
    }
    r->sample = sampler_.sample(logits_, tokens_);  // the penalties' window
    if (settings_.captureAttention) {
        r->attention = capture_.finishStep(first, n);
        r->recomputeMaxDiff = capture_.recomputeMaxDiff();
    }
    tokens_.push_back(r->sample.token);
    ++generated_;
    cumulative_ += r->flops;

    r->runId = runId_;
    r->mode = settings_.mode;
    r->step = generated_ - 1;
    r->position = n;
    r->promptLength = promptLength_;
    r->prefill = !naive && generated_ == 1;
    r->token = r->sample.token;
    r->tokenBytes = QByteArray::fromStdString(model_->tokenizer->tokenBytes(r->token));
    r->tokenText = model_->tokenizer->tokenDisplay(r->token);
    r->firstComputedRow = first;
    r->cumulative = cumulative_;
    r->kvCacheBytes = naive ? 0 : state_->kvCacheBytes(n);
    r->bytes = model_->transformer->bytesMoved(first, n);
    stop_ = limitReached();
    r->stop = stop_;
    r->milliseconds = double(timer.nsecsElapsed()) / 1e6;
    return r;
}

}  // namespace kvscope
