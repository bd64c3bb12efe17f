#pragma once

#include <glib.h>

#include "history.h"

G_BEGIN_DECLS

void        fc_advisor_simulate       (const FcRequestRecord *records,
                                       guint              n_records,
                                       guint64            entry_limit,
                                       const guint64     *capacities,
                                       guint              n_capacities,
                                       double            *ratios);

G_END_DECLS
