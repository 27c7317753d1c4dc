"""Operations: the engine's Prometheus metrics (``metrics``), its health (``health``), and the web
server exposing both (``server``)."""
