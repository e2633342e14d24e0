//! The server's `Listener` for smol's `TcpListener`.

use smol::net::{TcpListener, TcpStream};

crate::server::futures_io_tcp_listener!(TcpListener, TcpStream);
