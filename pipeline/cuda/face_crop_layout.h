// Internal: the layout of FaceCropTable::data, shared by the host builder and the kernel.
// Per face a header of kTableHeaderInts ints (at face * kTableHeaderInts); each tap record is
// [first source index, tap count, weights...] of the record length given in the header.
#pragma once

namespace siamese::cuda {

constexpr int kTableHeaderInts = 8;
constexpr int kHeaderX = 0;        // region x in frame pixels (may be negative)
constexpr int kHeaderY = 1;        // region y
constexpr int kHeaderHOffset = 2;  // index of the first horizontal tap record
constexpr int kHeaderHStride = 3;  // length of one horizontal record
constexpr int kHeaderVOffset = 4;  // index of the first vertical tap record
constexpr int kHeaderVStride = 5;  // length of one vertical record

}  // namespace siamese::cuda
