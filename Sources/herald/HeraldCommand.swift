import ArgumentParser

@main
struct HeraldCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "herald",
        abstract: "A self-hosted real-time notification and messaging server.",
        subcommands: [
            ServeCommand.self, ConfigCommand.self, MigrateCommand.self, UsersCommand.self, TokensCommand.self, KeysCommand.self, PublishCommand.self,
            SubscribeCommand.self, BenchCommand.self, BenchWorkerCommand.self,
        ],
        defaultSubcommand: ServeCommand.self)
}
