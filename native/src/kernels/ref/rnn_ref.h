/* Reference LSTM / GRU cell updates (ONNX equations, default activations:
 * sigmoid for gates, tanh for the cell / hidden candidates) for one batch
 * row. The matrix products (x . W^T + biases for every step at once, then
 * h . R^T per step) are done by the caller with the FullyConnected kernel;
 * these functions combine them. `clip` > 0 clamps every gate
 * pre-activation to [-clip, clip] (ONNX's cell clip). */
#ifndef NRT_RNN_REF_H
#define NRT_RNN_REF_H

#include <stdbool.h>
#include <stdint.h>

typedef struct nrt_rnn_cell {
    int64_t H;
    float clip;
    bool input_forget;        /* LSTM: f = 1 - i */
    bool linear_before_reset; /* GRU */
} nrt_rnn_cell;

/* LSTM. gx: x.W^T + Wb + Rb (4H, gate order i, o, f, c), gh: h.R^T (4H),
 * p: peepholes (3H: i, o, f) or NULL. Updates h and c in place. */
void nrt_lstm_cell_f32_ref(const nrt_rnn_cell* cell, const float* gx, const float* gh, const float* p, float* h,
                           float* c);

/* GRU, first half. gx: x.W^T + biases (3H, gate order z, r, h), gh: h.R^T
 * (z and r parts). Overwrites gh[0:H] with z and gh[H:2H] with r; without
 * linear_before_reset also writes rh = r * h (the next product's input). */
void nrt_gru_gates_f32_ref(const nrt_rnn_cell* cell, const float* gx, float* gh, const float* h, float* rh);

/* GRU, second half. gh[2H:3H] holds (r*h).Rh^T, or with
 * linear_before_reset h.Rh^T + Rbh. h = (1 - z) * candidate + z * h. */
void nrt_gru_update_f32_ref(const nrt_rnn_cell* cell, const float* gx, const float* gh, float* h);

#endif
