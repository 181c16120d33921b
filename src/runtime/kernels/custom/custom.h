/* Internal to the Custom kernel (custom.c dispatches, window3d.c computes). */
#ifndef TOD_KERNELS_CUSTOM_H
#define TOD_KERNELS_CUSTOM_H

#include "runtime/kernel.h"

/* Custom "Conv" / "MaxPool" / "AveragePool" on float32 NCDHW; a holds the type's attrs. */
tod_status custom_window3d(kernel *k, int type, const double *a, const tod_view *in, int n_in,
                           tod_view *out);

/* rnn/rnn.c: LSTM (gates 4), GRU (3) and RNN (1); scratch holds 8*G*H floats. */
tod_status rnn_compute(kernel *k, int gates, const tod_view *in, int n_in, tod_view *out, int n_out,
                       float *scratch);

#endif
