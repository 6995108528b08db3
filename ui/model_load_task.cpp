#include "model_load_task.h"

#include <QThread>

namespace kvscope {

ModelLoadTask::ModelLoadTask(const QString& path, const LoadOptions& options, QObject* parent)
    : QObject(parent), path_(path), options_(options) {
    qRegisterMetaType<kvscope::ModelPtr>("kvscope::ModelPtr");
}

ModelLoadTask::~ModelLoadTask() {
    if (!thread_) return;
    cancel();
    thread_->wait();
}

void ModelLoadTask::start() {
    thread_ = QThread::create([this] {
        result_ = loadModel(
            path_,
            [this](double f, const QString& stage) {
                Q_EMIT progress(f, stage);
                return !cancelled_.load();
            },
            options_);
    });
    thread_->setParent(this);
    connect(thread_, &QThread::finished, this, &ModelLoadTask::finish);
    thread_->start();
}

void ModelLoadTask::finish() {
    if (!result_) return;
    if (result_->ok())
        Q_EMIT loaded(result_->value());
    else
        Q_EMIT failed(result_->errorMessage());
}

}  // namespace kvscope
