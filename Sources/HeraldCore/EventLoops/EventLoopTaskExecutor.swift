import NIOCore

/// Runs a task's jobs on one event loop: a task started with it as its executor preference runs on
/// the loop's thread until it awaits something that answers from elsewhere, and comes back to the
/// loop after. Code that reads a request on the loop and answers it there costs no thread hop.
///
/// What such a task runs must not block: it holds every connection of its loop while it does.
public final class EventLoopTaskExecutor: TaskExecutor {
    public let eventLoop: any EventLoop

    public init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}
