"""Live Jupyter widgets: one widget state per kernel, shared with every page of its
notebooks (docs/WIDGETS.md). The server's own kernel client is the widgets' frontend
towards the kernel; ``service.WidgetService`` is the API the websocket handler adapts."""
