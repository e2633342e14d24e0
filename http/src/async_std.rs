//! The server's `Listener` for async-std's `TcpListener`.

use async_std::net::{TcpListener, TcpStream};

crate::server::futures_io_tcp_listener!(TcpListener, TcpStream);
