/* float16 weights of float32 ops (schemas/nanort.fbs: the rule under
 * DataType): `--weights fp16` and TFLite models that ship fp16 weights store
 * the constant weights of Conv / ConvTranspose / FullyConnected / MatMul as
 * IEEE half to halve the file. Load widens each such constant to float32
 * once, before the ops parse, so they pack and run it as any float32 weight;
 * the widened copies are counted in the model's packed-weight bytes. */
#ifndef NRT_FP16_WEIGHTS_H
#define NRT_FP16_WEIGHTS_H

#include "model.h"

/* After every node's inputs are read, before any node parses: widens the
 * float16 constants that only float32 weight-taking ops read as a weight. */
nrt_status nrt_widen_fp16_weights(nrt_model* m);

#endif
