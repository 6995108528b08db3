#pragma once
// A lesson: a Markdown file of chapters and steps that drive the real app and narrate it with
// the figures of the run it made. The schema is in docs/LESSONS.md; in short:
//
//   # Lesson title
//   ## Chapter
//   ### Step title
//   @model embedded:gpt2            actions, run in order when the step is shown
//   @prompt Once upon a time
//   @set mode=compare temperature=0 max_tokens=40
//   @run
//   @show attention
//   Text in Markdown, with live figures: this step recomputed {recomputed_rows} rows.
//
// The parser checks everything it can without a model: verbs, option names and values, figure
// names and their arguments. What needs the model (a layer that does not exist) is checked when
// the step runs. Every error names the file and the line.

#include "util/result.h"

#include <QByteArray>
#include <QString>
#include <QVariant>

#include <map>
#include <vector>

namespace kvscope {

struct LessonAction {
    int line = 0;  // 1-based, in the lesson file
    QString verb;  // model, prompt, set, run, step, stop, select, show, attention, cost,
                   // whatif, roofs (lessonVerbs())
    QString text;  // the argument as written: a model path, a prompt (escapes resolved), a panel
    std::map<QString, QVariant> options;  // key=value pairs, each checked and converted:
                                          // int, double, bool or QString
};

// A piece of narration: literal Markdown, or a live figure {name} / {name:arg}.
struct LessonText {
    QString markdown;     // empty for a figure
    QString figure, arg;  // figure name and its argument (may be empty)
    bool isFigure() const { return !figure.isEmpty(); }
};

struct LessonStep {
    int line = 0;  // the "### " line
    int chapter = 0;
    QString title;
    std::vector<LessonAction> actions;
    std::vector<LessonText> text;
};

struct Lesson {
    QString file;  // as given, for messages and for remembering where a reader stopped
    QString title;
    std::vector<QString> chapters;
    std::vector<LessonStep> steps;
};

// Verbs and their one-line syntax, for messages and the documentation.
struct LessonVerb {
    const char* name;
    const char* syntax;
};
const std::vector<LessonVerb>& lessonVerbs();

// Panels a step may point at: controls, tokens, distribution, attention, cost, whatif, lesson,
// and cost:TAB for one of the cost charts' tabs (lessonCostTabs(), in the Cost panel's tab order).
const std::vector<QString>& lessonPanels();
const std::vector<QString>& lessonCostTabs();

inline constexpr qsizetype kMaxLessonBytes = 1 << 20;

Result<Lesson> parseLesson(const QByteArray& bytes, const QString& file);
// Reads and parses `path` (a file, or a Qt resource path ":/...").
Result<Lesson> loadLesson(const QString& path);
// The lesson compiled into the executable.
QString builtInLessonPath();

}  // namespace kvscope
