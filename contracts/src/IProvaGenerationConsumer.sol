// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice Implemented by contracts that ask InferenceRequests for language-model generations
///         (InferenceRequests.requestGeneration).
interface IProvaGenerationConsumer {
    /// @notice Called by InferenceRequests once staked node(s) fulfilled the generation `requestId` with receipts
    ///         whose signatures were checked on chain. `text` is the generated text (the UTF-8 bytes of the output
    ///         tensor "text"; the contract does not check that they are valid UTF-8) and
    ///         textHash = keccak256(bytes(text)). The generated token ids are in the InferenceFulfilled event's
    ///         output bytes (docs/settlement.md, "Generations").
    function onGenerationResult(bytes32 requestId, bytes32 textHash, string calldata text) external;
}
