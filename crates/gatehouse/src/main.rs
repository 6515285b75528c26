use clap::Parser;

// Every request allocates many small strings (rows, attributes, JSON); glibc's allocator spent a
// third of the server's CPU on them under load (ListUsers pages), mimalloc a fraction of that.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[actix_web::main]
async fn main() {
    let cli = gatehouse::config::Cli::parse();
    if let Err(e) = gatehouse::run(cli).await {
        eprintln!("gatehouse: {e}");
        std::process::exit(1);
    }
}
