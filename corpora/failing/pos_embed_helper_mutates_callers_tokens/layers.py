def add_pos_embed_(x, pos_embed):
    # NOTE: callers rely on the in-place add (the helper returns nothing)
    x.add_(pos_embed)
