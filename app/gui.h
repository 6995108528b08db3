#pragma once

namespace kvscope {

int runGui(int argc, char** argv);

}  // namespace kvscope
