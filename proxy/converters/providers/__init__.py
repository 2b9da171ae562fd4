"""Provider converters: one pure module per provider family (and its helpers), listed in proxy.converters.registry."""
