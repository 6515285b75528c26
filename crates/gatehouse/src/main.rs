use clap::Parser;

#[actix_web::main]
async fn main() {
    let cli = gatehouse::config::Cli::parse();
    if let Err(e) = gatehouse::run(cli).await {
        eprintln!("gatehouse: {e}");
        std::process::exit(1);
    }
}
