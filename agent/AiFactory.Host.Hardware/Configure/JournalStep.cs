namespace AiFactory.Host.Hardware.Configure;

/// <summary>A step as journaled: its position, kind, description and inverse actions (run in reverse order on rollback).</summary>
public sealed record JournalStep(int Index, string Kind, string Description, IReadOnlyList<UndoAction> Undo);
