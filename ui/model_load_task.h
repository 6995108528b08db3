#pragma once
// Loads a model on its own thread with progress and cancel, so the window never blocks on a
// large checkpoint. The task lives on the GUI thread; its destructor cancels and joins.

#include "model/model.h"

#include <QObject>

#include <atomic>
#include <optional>

class QThread;

namespace kvscope {

class ModelLoadTask : public QObject {
    Q_OBJECT
public:
    ModelLoadTask(const QString& path, const LoadOptions& options, QObject* parent = nullptr);
    ~ModelLoadTask() override;
    void start();
    void cancel() { cancelled_.store(true); }
    QString path() const { return path_; }

Q_SIGNALS:
    // progress is emitted from the loading thread (queued to GUI receivers); the others from
    // the task's own thread once loading has ended.
    void progress(double fraction, const QString& stage);
    void loaded(const kvscope::ModelPtr& model);
    void failed(const QString& message);

private:
    void finish();

    QString path_;
    LoadOptions options_;
    QThread* thread_ = nullptr;
    std::atomic<bool> cancelled_{false};
    std::optional<Result<ModelPtr>> result_;  // written by the thread before it finishes
};

}  // namespace kvscope

Q_DECLARE_METATYPE(kvscope::ModelPtr)
