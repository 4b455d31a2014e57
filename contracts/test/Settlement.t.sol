// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Base, Vm, MerkleTree, ReceiptsHarness} from "./Base.sol";
import {ProvaReceipts} from "../src/ProvaReceipts.sol";
import {NodeRegistry} from "../src/NodeRegistry.sol";
import {Settlement} from "../src/Settlement.sol";

contract SettlementTest is Base {
    uint256 internal liarPk;
    address internal liar;
    address[4] internal others;
    uint256[4] internal otherPks;
    uint256 internal clientPk;
    address internal client;
    address internal constant CHALLENGER = address(0xC4A11);
    bytes32 internal constant WRONG = keccak256("wrong output");

    function setUp() public {
        vm.warp(1_700_000_000);
        deployAll(address(0), COMMITTEE);
        liarPk = key(0);
        liar = registerNode(liarPk, 4 ether);
        for (uint256 i = 0; i < 4; i++) {
            otherPks[i] = key(i + 1);
            others[i] = registerNode(otherPks[i], (i + 1) * 1 ether);
        }
        clientPk = key(100);
        client = vm.addr(clientPk);
        vm.deal(client, 10 ether);
        vm.prank(client);
        settlement.deposit{value: 5 ether}();
        vm.deal(CHALLENGER, 10 ether);
    }

    // ------------------------------------------------------------ helpers

    /// @dev n receipts of `pk`'s node (requestId = i), the one at `bad` with outputHash WRONG.
    function _receipts(uint256 pk, uint256 n, uint256 bad)
        internal
        view
        returns (ProvaReceipts.Receipt[] memory rs, bytes32[] memory leaves)
    {
        rs = new ProvaReceipts.Receipt[](n);
        leaves = new bytes32[](n);
        for (uint256 i = 0; i < n; i++) {
            rs[i] = receipt(vm.addr(pk), bytes32(i), i == bad ? WRONG : OUTPUT);
            leaves[i] = ProvaReceipts.leaf(digestOf(rs[i]));
        }
    }

    function _post(uint256 pk, bytes32 root, uint32 count, uint256 cumulative) internal returns (uint256 id) {
        address node = vm.addr(pk);
        bytes memory v = cumulative == 0 ? bytes("") : signVoucher(clientPk, node, cumulative);
        vm.prank(node);
        id = settlement.postBatch(root, count, cumulative == 0 ? address(0) : client, cumulative, v);
    }

    /// @dev A 5-receipt batch from the liar (fee 1 ether) and a bonded challenge of receipt `index`.
    function _challengeLiar(uint256 index) internal returns (uint256 batchId, uint256 challengeId) {
        (ProvaReceipts.Receipt[] memory rs, bytes32[] memory leaves) = _receipts(liarPk, 5, 4);
        batchId = _post(liarPk, MerkleTree.root(leaves), 5, 1 ether);
        bytes memory sig = signReceipt(liarPk, rs[index]);
        bytes32[] memory proof = MerkleTree.proof(leaves, index);
        vm.prank(CHALLENGER); // (after the helper calls above, which would consume the prank)
        challengeId = settlement.challenge{value: BOND}(batchId, rs[index], sig, proof, "http://inputs");
    }

    function _pkOf(address a) internal view returns (uint256) {
        for (uint256 i = 0; i < 4; i++) {
            if (others[i] == a) return otherPks[i];
        }
        revert("not a node");
    }

    function _voteAll(uint256 challengeId, bytes32 output, uint256 howMany) internal {
        address[] memory c = settlement.committeeOf(challengeId);
        for (uint256 i = 0; i < howMany && i < c.length; i++) {
            vm.prank(c[i]);
            settlement.vote(challengeId, output);
        }
    }

    // ------------------------------------------------------------ EIP-712

    function test_ReceiptDigestMatchesForgeEip712() public view {
        ProvaReceipts.Receipt memory r = receipt(liar, bytes32(uint256(7)), OUTPUT);
        string memory json = string.concat(
            '{"types":{"EIP712Domain":[{"name":"name","type":"string"},{"name":"version","type":"string"},',
            '{"name":"chainId","type":"uint256"},{"name":"verifyingContract","type":"address"}],',
            '"Receipt":[{"name":"model","type":"bytes32"},{"name":"inputHash","type":"bytes32"},',
            '{"name":"outputHash","type":"bytes32"},{"name":"mode","type":"string"},{"name":"requestId","type":"bytes32"},',
            '{"name":"node","type":"address"},{"name":"timestamp","type":"uint64"},{"name":"chainId","type":"uint256"}]},',
            '"primaryType":"Receipt","domain":{"name":"Prova","version":"1","chainId":',
            vm.toString(block.chainid),
            ',"verifyingContract":"',
            vm.toString(address(settlement)),
            '"},"message":{"model":"',
            vm.toString(r.model),
            '","inputHash":"',
            vm.toString(r.inputHash),
            '","outputHash":"',
            vm.toString(r.outputHash),
            '","mode":"attested","requestId":"',
            vm.toString(r.requestId),
            '","node":"',
            vm.toString(r.node),
            '","timestamp":',
            vm.toString(uint256(r.timestamp)),
            ',"chainId":',
            vm.toString(block.chainid),
            "}}"
        );
        assertEq(digestOf(r), vm.eip712HashTypedData(json), "digest equals forge's independent EIP-712 hash");
    }

    function test_DomainFollowsChainId() public {
        bytes32 before = settlement.domainSeparator();
        vm.chainId(12345);
        assertTrue(settlement.domainSeparator() != before, "domain changes with chain id");
    }

    // ------------------------------------------------------------ escrow

    function test_EscrowWithdrawalWaitsForDelay() public {
        vm.prank(client);
        settlement.requestWithdrawal(2 ether);
        uint64 unlockAt = uint64(block.timestamp) + ESCROW_DELAY;
        vm.prank(client);
        vm.expectRevert(abi.encodeWithSelector(Settlement.StillLocked.selector, unlockAt));
        settlement.withdraw();
        vm.warp(unlockAt);
        uint256 before = client.balance;
        vm.prank(client);
        settlement.withdraw();
        assertEq(client.balance - before, 2 ether, "paid out");
        (uint256 balance,,) = settlement.escrowOf(client);
        assertEq(balance, 3 ether, "rest stays");
        vm.prank(client);
        vm.expectRevert(Settlement.NothingToWithdraw.selector);
        settlement.withdraw();
    }

    function test_EscrowPendingStaysSpendableDuringDelay() public {
        vm.prank(client);
        settlement.requestWithdrawal(5 ether);
        _post(liarPk, keccak256("root"), 10, 4 ether); // a node posts its voucher during the delay
        vm.warp(block.timestamp + ESCROW_DELAY);
        uint256 before = client.balance;
        vm.prank(client);
        settlement.withdraw();
        assertEq(client.balance - before, 1 ether, "only what vouchers left");
    }

    function test_WithdrawalAboveBalanceReverts() public {
        vm.prank(client);
        vm.expectRevert(abi.encodeWithSelector(Settlement.InsufficientEscrow.selector, 6 ether, 5 ether));
        settlement.requestWithdrawal(6 ether);
    }

    // ------------------------------------------------------------ batches and fees

    function test_PostBatchReservesVoucherFee() public {
        uint256 id = _post(liarPk, keccak256("root"), 100, 1 ether);
        Settlement.Batch memory b = settlement.getBatch(id);
        assertEq(b.fee, 1 ether, "fee");
        assertEq(b.count, 100, "count");
        assertEq(b.node, liar, "node");
        (uint256 balance,,) = settlement.escrowOf(client);
        assertEq(balance, 4 ether, "reserved from escrow");
        assertEq(settlement.paid(client, liar), 1 ether, "paid");
        // The next batch claims only the increase of the cumulative voucher.
        uint256 id2 = _post(liarPk, keccak256("root2"), 100, 1.5 ether);
        assertEq(settlement.getBatch(id2).fee, 0.5 ether, "incremental fee");
    }

    function test_PostBatchRules() public {
        address stranger = address(0xBAD);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(Settlement.NotActiveNode.selector, stranger));
        settlement.postBatch(keccak256("r"), 1, address(0), 0, "");
        vm.startPrank(liar);
        vm.expectRevert(Settlement.EmptyBatch.selector);
        settlement.postBatch(keccak256("r"), 0, address(0), 0, "");
        vm.expectRevert(Settlement.ZeroRoot.selector);
        settlement.postBatch(bytes32(0), 1, address(0), 0, "");
        vm.stopPrank();
    }

    function test_VoucherMustBeSignedByClient() public {
        bytes memory forged = signDigest(key(55), settlement.voucherDigest(client, liar, 1 ether));
        vm.prank(liar);
        vm.expectRevert(abi.encodeWithSelector(Settlement.BadVoucher.selector, vm.addr(key(55)), client));
        settlement.postBatch(keccak256("r"), 1, client, 1 ether, forged);
        // A voucher for another node cannot be replayed by this one.
        bytes memory forOther = signVoucher(clientPk, others[0], 1 ether);
        vm.prank(liar);
        vm.expectRevert();
        settlement.postBatch(keccak256("r"), 1, client, 1 ether, forOther);
    }

    function test_VoucherCannotBeReusedOrGoBelowPaid() public {
        _post(liarPk, keccak256("r"), 1, 2 ether);
        bytes memory old = signVoucher(clientPk, liar, 1 ether);
        vm.prank(liar);
        vm.expectRevert(abi.encodeWithSelector(Settlement.VoucherBelowPaid.selector, 1 ether, 2 ether));
        settlement.postBatch(keccak256("r2"), 1, client, 1 ether, old);
        // The same cumulative again claims nothing.
        uint256 id = _post(liarPk, keccak256("r3"), 1, 2 ether);
        assertEq(settlement.getBatch(id).fee, 0, "no double claim");
    }

    function test_VoucherAboveEscrowReverts() public {
        bytes memory v = signVoucher(clientPk, liar, 6 ether);
        vm.prank(liar);
        vm.expectRevert(abi.encodeWithSelector(Settlement.InsufficientEscrow.selector, 6 ether, 5 ether));
        settlement.postBatch(keccak256("r"), 1, client, 6 ether, v);
    }

    function test_FeesCollectedOnlyAfterWindow() public {
        uint256 id = _post(liarPk, keccak256("root"), 100, 1 ether);
        uint256[] memory ids = new uint256[](1);
        ids[0] = id;
        vm.warp(block.timestamp + WINDOW - 1);
        vm.prank(liar);
        vm.expectRevert(abi.encodeWithSelector(Settlement.ChallengeWindowOpen.selector, id));
        settlement.collectFees(ids);
        vm.warp(block.timestamp + 1);
        vm.prank(others[0]);
        vm.expectRevert(abi.encodeWithSelector(Settlement.NotBatchNode.selector, id));
        settlement.collectFees(ids);
        uint256 before = liar.balance;
        vm.prank(liar);
        settlement.collectFees(ids);
        assertEq(liar.balance - before, 1 ether, "fee paid");
        vm.prank(liar);
        vm.expectRevert(abi.encodeWithSelector(Settlement.BatchNotOpen.selector, id));
        settlement.collectFees(ids);
    }

    // ------------------------------------------------------------ challenge admission

    function test_ChallengeOpensWithCommitteeExcludingNodeAndChallenger() public {
        // The challenger is itself a staked node: it must not judge its own challenge either.
        (ProvaReceipts.Receipt[] memory rs, bytes32[] memory leaves) = _receipts(liarPk, 5, 4);
        uint256 batchId = _post(liarPk, MerkleTree.root(leaves), 5, 1 ether);
        vm.deal(others[3], 1 ether);
        bytes memory sig = signReceipt(liarPk, rs[4]);
        bytes32[] memory proof = MerkleTree.proof(leaves, 4);
        vm.prank(others[3]);
        uint256 id = settlement.challenge{value: BOND}(batchId, rs[4], sig, proof, "uri");
        address[] memory c = settlement.committeeOf(id);
        assertEq(c.length, 3, "committee size");
        for (uint256 i = 0; i < c.length; i++) {
            assertTrue(c[i] != liar && c[i] != others[3], "accused and challenger excluded");
            assertTrue(nodes.isActive(c[i]), "member is active");
            for (uint256 j = 0; j < i; j++) {
                assertTrue(c[i] != c[j], "distinct members");
            }
        }
        assertEq(settlement.openChallengesAgainst(liar), 1, "open challenge");
        assertEq(settlement.getBatch(batchId).openChallenges, 1, "batch under challenge");
    }

    function test_ChallengeAfterWindowReverts() public {
        (ProvaReceipts.Receipt[] memory rs, bytes32[] memory leaves) = _receipts(liarPk, 5, 4);
        uint256 batchId = _post(liarPk, MerkleTree.root(leaves), 5, 1 ether);
        vm.warp(block.timestamp + WINDOW);
        bytes memory sig = signReceipt(liarPk, rs[4]);
        bytes32[] memory proof = MerkleTree.proof(leaves, 4);
        vm.prank(CHALLENGER);
        vm.expectRevert(abi.encodeWithSelector(Settlement.ChallengeWindowClosed.selector, batchId));
        settlement.challenge{value: BOND}(batchId, rs[4], sig, proof, "uri");
    }

    function test_ChallengeNeedsExactBond() public {
        (ProvaReceipts.Receipt[] memory rs, bytes32[] memory leaves) = _receipts(liarPk, 5, 4);
        uint256 batchId = _post(liarPk, MerkleTree.root(leaves), 5, 1 ether);
        bytes memory sig = signReceipt(liarPk, rs[4]);
        bytes32[] memory proof = MerkleTree.proof(leaves, 4);
        vm.prank(CHALLENGER);
        vm.expectRevert(abi.encodeWithSelector(Settlement.WrongBond.selector, BOND - 1, BOND));
        settlement.challenge{value: BOND - 1}(batchId, rs[4], sig, proof, "uri");
    }

    function test_ChallengeRejectsBadProof() public {
        (ProvaReceipts.Receipt[] memory rs, bytes32[] memory leaves) = _receipts(liarPk, 5, 4);
        uint256 batchId = _post(liarPk, MerkleTree.root(leaves), 5, 1 ether);
        bytes memory sig = signReceipt(liarPk, rs[4]);
        bytes32[] memory proof = MerkleTree.proof(leaves, 3); // proof of another leaf
        vm.prank(CHALLENGER);
        vm.expectRevert(Settlement.NotInBatch.selector);
        settlement.challenge{value: BOND}(batchId, rs[4], sig, proof, "uri");
        // A receipt validly signed by the node but not in this batch.
        ProvaReceipts.Receipt memory outside = receipt(liar, bytes32(uint256(99)), WRONG);
        bytes memory sig2 = signReceipt(liarPk, outside);
        bytes32[] memory proof2 = MerkleTree.proof(leaves, 0);
        vm.prank(CHALLENGER);
        vm.expectRevert(Settlement.NotInBatch.selector);
        settlement.challenge{value: BOND}(batchId, outside, sig2, proof2, "uri");
    }

    function test_ChallengeRejectsBadSignatures() public {
        (ProvaReceipts.Receipt[] memory rs, bytes32[] memory leaves) = _receipts(liarPk, 5, 4);
        uint256 batchId = _post(liarPk, MerkleTree.root(leaves), 5, 1 ether);
        bytes32[] memory proof = MerkleTree.proof(leaves, 4);
        bytes memory good = signReceipt(liarPk, rs[4]);
        vm.startPrank(CHALLENGER);

        // Signed by someone else.
        bytes memory other = signReceipt(key(77), rs[4]);
        vm.expectRevert(abi.encodeWithSelector(Settlement.BadSigner.selector, vm.addr(key(77)), liar));
        settlement.challenge{value: BOND}(batchId, rs[4], other, proof, "uri");

        // A field altered after signing.
        ProvaReceipts.Receipt memory altered = rs[4];
        altered.timestamp += 1;
        vm.expectRevert(); // recovers to some other address
        settlement.challenge{value: BOND}(batchId, altered, good, proof, "uri");
        altered.timestamp -= 1;

        // The malleable high-s twin of a valid signature.
        vm.expectRevert(ProvaReceipts.HighS.selector);
        settlement.challenge{value: BOND}(batchId, rs[4], highS(good), proof, "uri");

        // Wrong length.
        vm.expectRevert(abi.encodeWithSelector(ProvaReceipts.BadSignatureLength.selector, 64));
        settlement.challenge{value: BOND}(batchId, rs[4], new bytes(64), proof, "uri");
        vm.stopPrank();
    }

    function test_ChallengeRejectsOtherChainAndOtherNode() public {
        (ProvaReceipts.Receipt[] memory rs, bytes32[] memory leaves) = _receipts(liarPk, 5, 4);
        uint256 batchId = _post(liarPk, MerkleTree.root(leaves), 5, 1 ether);
        bytes32[] memory proof = MerkleTree.proof(leaves, 4);
        ProvaReceipts.Receipt memory r = rs[4];
        r.chainId = 1;
        bytes memory sig = signReceipt(liarPk, r);
        vm.prank(CHALLENGER);
        vm.expectRevert(abi.encodeWithSelector(Settlement.WrongChain.selector, 1));
        settlement.challenge{value: BOND}(batchId, r, sig, proof, "uri");

        ProvaReceipts.Receipt memory r2 = receipt(others[0], bytes32(uint256(4)), WRONG);
        bytes memory sig2 = signReceipt(otherPks[0], r2);
        vm.prank(CHALLENGER);
        vm.expectRevert(abi.encodeWithSelector(Settlement.WrongNode.selector, others[0], liar));
        settlement.challenge{value: BOND}(batchId, r2, sig2, proof, "uri");
    }

    function test_SameReceiptCannotBeChallengedTwice() public {
        (ProvaReceipts.Receipt[] memory rs, bytes32[] memory leaves) = _receipts(liarPk, 5, 4);
        uint256 batchId = _post(liarPk, MerkleTree.root(leaves), 5, 1 ether);
        bytes memory sig = signReceipt(liarPk, rs[4]);
        bytes32[] memory proof = MerkleTree.proof(leaves, 4);
        vm.prank(CHALLENGER);
        settlement.challenge{value: BOND}(batchId, rs[4], sig, proof, "uri");
        bytes32 d = digestOf(rs[4]);
        vm.prank(CHALLENGER);
        vm.expectRevert(abi.encodeWithSelector(Settlement.AlreadyDisputed.selector, d));
        settlement.challenge{value: BOND}(batchId, rs[4], sig, proof, "uri");
    }

    // ------------------------------------------------------------ votes and verdicts

    function test_VotingRules() public {
        (, uint256 id) = _challengeLiar(4);
        address[] memory c = settlement.committeeOf(id);
        vm.prank(liar);
        vm.expectRevert(abi.encodeWithSelector(Settlement.NotCommitteeMember.selector, liar));
        settlement.vote(id, OUTPUT);
        vm.prank(c[0]);
        settlement.vote(id, OUTPUT);
        vm.prank(c[0]);
        vm.expectRevert(abi.encodeWithSelector(Settlement.AlreadyVoted.selector, c[0]));
        settlement.vote(id, OUTPUT);
        vm.expectRevert(abi.encodeWithSelector(Settlement.VotingOpen.selector, id));
        settlement.resolve(id);
        vm.warp(block.timestamp + VOTING);
        vm.prank(c[1]);
        vm.expectRevert(abi.encodeWithSelector(Settlement.VotingClosed.selector, id));
        settlement.vote(id, OUTPUT);
        vm.expectRevert(abi.encodeWithSelector(Settlement.UnknownChallenge.selector, 99));
        settlement.vote(99, OUTPUT);
    }

    function test_MajoritySaysNodeLied_SlashesPaysAndRefunds() public {
        (uint256 batchId, uint256 id) = _challengeLiar(4); // receipt 4 claims WRONG, the true output is OUTPUT
        uint256 slashable = nodes.slashableOf(liar);
        address[] memory c = settlement.committeeOf(id);
        vm.prank(c[0]);
        settlement.vote(id, OUTPUT);
        vm.prank(c[1]);
        settlement.vote(id, OUTPUT);
        vm.prank(c[2]);
        settlement.vote(id, WRONG); // a dissenter gets nothing
        settlement.resolve(id);

        Settlement.Challenge memory ch = settlement.getChallenge(id);
        assertTrue(ch.verdict == Settlement.Verdict.NodeLied, "verdict");
        assertEq(ch.majorityOutput, OUTPUT, "majority output");
        uint256 slashed = slashable * SLASH_BPS / 10_000;
        assertEq(nodes.slashableOf(liar), slashable - slashed, "stake slashed");
        assertTrue(nodes.isActive(liar), "2 of 4 ether left: still active");
        uint256 toChallenger = slashed * CHALLENGER_BPS / 10_000;
        assertEq(settlement.credits(CHALLENGER), BOND + toChallenger, "bond back + share");
        uint256 each = slashed * COMMITTEE_BPS / 10_000 / 2;
        assertEq(settlement.credits(c[0]), each, "majority voter reward");
        assertEq(settlement.credits(c[1]), each, "majority voter reward");
        assertEq(settlement.credits(c[2]), 0, "dissenter gets nothing");
        assertEq(settlement.totalBurned(), slashed - toChallenger - 2 * each, "rest burned");
        // The batch is void: its fee went back to the client's escrow and cannot be collected.
        assertTrue(settlement.getBatch(batchId).status == Settlement.BatchStatus.Voided, "voided");
        (uint256 balance,,) = settlement.escrowOf(client);
        assertEq(balance, 5 ether, "fee refunded");
        vm.warp(block.timestamp + WINDOW);
        uint256[] memory ids = new uint256[](1);
        ids[0] = batchId;
        vm.prank(liar);
        vm.expectRevert(abi.encodeWithSelector(Settlement.BatchNotOpen.selector, batchId));
        settlement.collectFees(ids);
        // Credits can be withdrawn.
        uint256 before = CHALLENGER.balance;
        vm.prank(CHALLENGER);
        settlement.withdrawCredits();
        assertEq(CHALLENGER.balance - before, BOND + toChallenger, "challenger paid");
        vm.expectRevert(abi.encodeWithSelector(Settlement.AlreadyResolved.selector, id));
        settlement.resolve(id);
    }

    function test_MajorityConfirmsReceipt_BondForfeitedToNodeAndCommittee() public {
        (uint256 batchId, uint256 id) = _challengeLiar(2); // receipt 2 is honest (OUTPUT)
        uint256 slashable = nodes.slashableOf(liar);
        _voteAll(id, OUTPUT, 3);
        settlement.resolve(id); // all voted: no need to wait for the deadline
        assertTrue(settlement.getChallenge(id).verdict == Settlement.Verdict.ChallengeFailed, "verdict");
        assertEq(nodes.slashableOf(liar), slashable, "not slashed");
        uint256 toCommittee = uint256(BOND) * COMMITTEE_BPS / 10_000 / 3 * 3;
        assertEq(settlement.credits(liar), BOND - toCommittee, "bond to the node");
        assertEq(settlement.credits(CHALLENGER), 0, "challenger loses bond");
        address[] memory c = settlement.committeeOf(id);
        assertEq(settlement.credits(c[0]), toCommittee / 3, "committee reward");
        // Fees still collectable after the window.
        vm.warp(block.timestamp + WINDOW);
        uint256[] memory ids = new uint256[](1);
        ids[0] = batchId;
        uint256 before = liar.balance;
        vm.prank(liar);
        settlement.collectFees(ids);
        assertEq(liar.balance - before, 1 ether, "fee collected");
    }

    function test_OpenChallengeBlocksFeesAndStakeWithdrawal() public {
        (uint256 batchId, uint256 id) = _challengeLiar(2);
        vm.prank(liar);
        nodes.requestUnbond(4 ether);
        vm.warp(block.timestamp + UNBONDING_DELAY);
        uint256[] memory ids = new uint256[](1);
        ids[0] = batchId;
        vm.prank(liar);
        vm.expectRevert(abi.encodeWithSelector(Settlement.BatchUnderChallenge.selector, batchId));
        settlement.collectFees(ids);
        vm.prank(liar);
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.UnderChallenge.selector, liar));
        nodes.withdraw();
        settlement.resolve(id); // deadline passed, nobody voted: inconclusive
        vm.prank(liar);
        nodes.withdraw();
    }

    function test_NoMajorityIsInconclusive_BondReturned() public {
        (, uint256 id) = _challengeLiar(4);
        address[] memory c = settlement.committeeOf(id);
        vm.prank(c[0]);
        settlement.vote(id, OUTPUT);
        vm.prank(c[1]);
        settlement.vote(id, WRONG);
        vm.warp(block.timestamp + VOTING);
        uint256 slashable = nodes.slashableOf(liar);
        settlement.resolve(id);
        assertTrue(settlement.getChallenge(id).verdict == Settlement.Verdict.Inconclusive, "verdict");
        assertEq(settlement.credits(CHALLENGER), BOND, "bond returned");
        assertEq(nodes.slashableOf(liar), slashable, "not slashed");
        assertEq(settlement.openChallengesAgainst(liar), 0, "closed");
    }

    function test_UnavailableInputsForfeitBond() public {
        (, uint256 id) = _challengeLiar(4);
        _voteAll(id, bytes32(0), 2); // two of three could not get the inputs
        vm.warp(block.timestamp + VOTING);
        uint256 slashable = nodes.slashableOf(liar);
        settlement.resolve(id);
        assertTrue(settlement.getChallenge(id).verdict == Settlement.Verdict.ChallengeFailed, "verdict");
        assertEq(nodes.slashableOf(liar), slashable, "not slashed");
        assertEq(settlement.credits(CHALLENGER), 0, "bond lost");
    }

    function test_TreasuryReceivesTheRest() public {
        address treasury = address(0x7EA5);
        deployAll(treasury, COMMITTEE);
        liar = registerNode(liarPk, 4 ether);
        for (uint256 i = 0; i < 4; i++) {
            registerNode(otherPks[i], 2 ether);
        }
        vm.prank(client);
        settlement.deposit{value: 5 ether}();
        (, uint256 id) = _challengeLiar(4);
        _voteAll(id, OUTPUT, 3);
        settlement.resolve(id);
        uint256 slashed = uint256(4 ether) * SLASH_BPS / 10_000;
        uint256 rest = slashed - slashed * CHALLENGER_BPS / 10_000 - slashed * COMMITTEE_BPS / 10_000 / 3 * 3;
        assertEq(settlement.credits(treasury), rest, "treasury share");
        assertEq(settlement.totalBurned(), 0, "nothing burned");
    }

    // ------------------------------------------------------------ conflicting receipts

    function test_ConflictFromTwoNodes_CommitteeSlashesTheLiar() public {
        ProvaReceipts.Receipt memory a = receipt(liar, keccak256("req"), WRONG);
        ProvaReceipts.Receipt memory b = receipt(others[0], keccak256("req"), OUTPUT);
        bytes memory sa = signReceipt(liarPk, a);
        bytes memory sb = signReceipt(otherPks[0], b);
        vm.prank(CHALLENGER);
        uint256 id = settlement.reportConflict(a, sa, b, sb, "uri");
        assertTrue(id != 0, "challenge opened");
        assertEq(settlement.getChallenge(id).bond, 0, "no bond");
        address[] memory c = settlement.committeeOf(id);
        for (uint256 i = 0; i < c.length; i++) {
            assertTrue(c[i] != liar && c[i] != others[0], "both accused excluded");
        }
        uint256 liarStake = nodes.slashableOf(liar);
        uint256 honestStake = nodes.slashableOf(others[0]);
        _voteAll(id, OUTPUT, c.length);
        settlement.resolve(id);
        assertTrue(settlement.getChallenge(id).verdict == Settlement.Verdict.NodeLied, "verdict");
        assertEq(nodes.slashableOf(liar), liarStake - liarStake * SLASH_BPS / 10_000, "liar slashed");
        assertEq(nodes.slashableOf(others[0]), honestStake, "honest node untouched");
        assertEq(settlement.credits(CHALLENGER), liarStake * SLASH_BPS / 10_000 * CHALLENGER_BPS / 10_000, "reporter share");
    }

    function test_EquivocationSlashesAtOnce() public {
        ProvaReceipts.Receipt memory a = receipt(liar, keccak256("req"), WRONG);
        ProvaReceipts.Receipt memory b = receipt(liar, keccak256("req"), OUTPUT);
        uint256 stake = nodes.slashableOf(liar);
        bytes memory sa = signReceipt(liarPk, a);
        bytes memory sb = signReceipt(liarPk, b);
        vm.prank(CHALLENGER);
        uint256 id = settlement.reportConflict(a, sa, b, sb, "");
        assertEq(id, 0, "no committee needed");
        assertEq(nodes.slashableOf(liar), stake - stake * SLASH_BPS / 10_000, "slashed");
        vm.prank(CHALLENGER);
        vm.expectRevert(abi.encodeWithSelector(Settlement.AlreadyDisputed.selector, digestOf(a)));
        settlement.reportConflict(a, sa, b, sb, "");
    }

    function test_AgreeingOrUnrelatedReceiptsAreNotAConflict() public {
        ProvaReceipts.Receipt memory a = receipt(liar, keccak256("req"), OUTPUT);
        ProvaReceipts.Receipt memory b = receipt(others[0], keccak256("req"), OUTPUT);
        bytes memory sa = signReceipt(liarPk, a);
        bytes memory sb = signReceipt(otherPks[0], b);
        vm.expectRevert(Settlement.NotConflicting.selector);
        settlement.reportConflict(a, sa, b, sb, "");
        b.outputHash = WRONG;
        b.requestId = keccak256("another request");
        sb = signReceipt(otherPks[0], b);
        vm.expectRevert(Settlement.NotConflicting.selector);
        settlement.reportConflict(a, sa, b, sb, "");
        b.requestId = keccak256("req");
        b.inputHash = keccak256("other input");
        sb = signReceipt(otherPks[0], b);
        vm.expectRevert(Settlement.NotConflicting.selector);
        settlement.reportConflict(a, sa, b, sb, "");
    }

    function test_ConflictRejectsBadSignature() public {
        ProvaReceipts.Receipt memory a = receipt(liar, keccak256("req"), WRONG);
        ProvaReceipts.Receipt memory b = receipt(others[0], keccak256("req"), OUTPUT);
        bytes memory sa = signReceipt(liarPk, a);
        bytes memory forged = signReceipt(key(9), b);
        vm.expectRevert(abi.encodeWithSelector(Settlement.BadSigner.selector, vm.addr(key(9)), others[0]));
        settlement.reportConflict(a, sa, b, forged, "");
        bytes memory sb = signReceipt(otherPks[0], b);
        bytes memory high = highS(sa);
        vm.expectRevert(ProvaReceipts.HighS.selector);
        settlement.reportConflict(a, high, b, sb, "");
    }

    // ------------------------------------------------------------ parameters

    function test_ConstructorRejectsUnsafeParameters() public {
        // Unbonding must outlast a challenge window plus a vote, or a liar could leave with its stake.
        vm.expectRevert(Settlement.BadParameters.selector);
        new Settlement(nodes, address(0), UNBONDING_DELAY, 1, ESCROW_DELAY, BOND, SLASH_BPS, CHALLENGER_BPS, COMMITTEE_BPS, 3);
        vm.expectRevert(Settlement.BadParameters.selector);
        new Settlement(nodes, address(0), WINDOW, VOTING, ESCROW_DELAY, BOND, SLASH_BPS, 9000, 2000, 3);
        vm.expectRevert(Settlement.BadParameters.selector);
        new Settlement(nodes, address(0), WINDOW, VOTING, ESCROW_DELAY, BOND, SLASH_BPS, CHALLENGER_BPS, COMMITTEE_BPS, 0);
        vm.expectRevert(Settlement.BadParameters.selector);
        new Settlement(nodes, address(0), WINDOW, VOTING, ESCROW_DELAY, 0, SLASH_BPS, CHALLENGER_BPS, COMMITTEE_BPS, 3);
    }

    function test_OnlyRegistrySendsEther() public {
        vm.deal(address(this), 1 ether);
        (bool ok,) = address(settlement).call{value: 1}("");
        assertTrue(!ok, "plain transfers refused");
    }

    // ------------------------------------------------------------ fuzz

    /// Any leaf of any batch size proves inclusion; a proof for one leaf never proves another.
    function testFuzz_MerkleProofs(uint256 seed, uint8 size, uint8 index) public {
        uint256 n = bound(size, 1, 40);
        uint256 i = bound(index, 0, n - 1);
        bytes32[] memory leaves = new bytes32[](n);
        for (uint256 k = 0; k < n; k++) {
            leaves[k] = keccak256(abi.encode(seed, k));
        }
        ReceiptsHarness h = new ReceiptsHarness();
        bytes32 root = MerkleTree.root(leaves);
        bytes32[] memory proof = MerkleTree.proof(leaves, i);
        assertTrue(h.verify(proof, root, leaves[i]), "leaf proves");
        if (n == 1) assertEq(root, leaves[0], "one leaf: root = leaf");
        bytes32 other = leaves[(i + 1) % n];
        if (other != leaves[i]) assertTrue(!h.verify(proof, root, other), "proof is leaf-specific");
        if (proof.length > 0) {
            proof[seed % proof.length] ^= bytes32(uint256(1));
            assertTrue(!h.verify(proof, root, leaves[i]), "tampered proof fails");
        }
    }

    /// Every signature with s > n/2 is refused; its low-s twin recovers the signer.
    function testFuzz_HighSRejected(uint256 pkSeed, bytes32 hash) public {
        uint256 pk = pkSeed % (SECP256K1_N - 1) + 1;
        ReceiptsHarness h = new ReceiptsHarness();
        bytes memory sig = signDigest(pk, hash);
        assertEq(h.recover(hash, sig), vm.addr(pk), "low-s recovers");
        vm.expectRevert(ProvaReceipts.HighS.selector);
        h.recover(hash, highS(sig));
    }

    /// A challenge of a random receipt in a random-size batch: a committee majority for the true output
    /// slashes the node exactly when the receipt lied.
    function testFuzz_VerdictFollowsMajority(uint256 seed, uint8 size, bool receiptLies, bool committeeAgrees)
        public
    {
        uint256 n = bound(size, 1, 24);
        uint256 target = seed % n;
        (ProvaReceipts.Receipt[] memory rs, bytes32[] memory leaves) =
            _receipts(liarPk, n, receiptLies ? target : type(uint256).max);
        uint256 batchId = _post(liarPk, MerkleTree.root(leaves), uint32(n), 0);
        vm.prevrandao(bytes32(seed));
        bytes memory sig = signReceipt(liarPk, rs[target]);
        bytes32[] memory proof = MerkleTree.proof(leaves, target);
        vm.prank(CHALLENGER);
        uint256 id = settlement.challenge{value: BOND}(batchId, rs[target], sig, proof, "uri");
        uint256 stake = nodes.slashableOf(liar);
        // The committee votes the true output (OUTPUT), or (when it does not agree) splits with no majority.
        address[] memory c = settlement.committeeOf(id);
        for (uint256 i = 0; i < c.length; i++) {
            vm.prank(c[i]);
            settlement.vote(id, committeeAgrees ? OUTPUT : keccak256(abi.encode(i)));
        }
        settlement.resolve(id);
        Settlement.Verdict v = settlement.getChallenge(id).verdict;
        if (!committeeAgrees) {
            assertTrue(v == Settlement.Verdict.Inconclusive, "no majority");
            assertEq(nodes.slashableOf(liar), stake, "untouched");
        } else if (receiptLies) {
            assertTrue(v == Settlement.Verdict.NodeLied, "lie found");
            assertTrue(nodes.slashableOf(liar) < stake, "slashed");
        } else {
            assertTrue(v == Settlement.Verdict.ChallengeFailed, "receipt stands");
            assertEq(nodes.slashableOf(liar), stake, "untouched");
        }
    }

    /// Committee selection is stake-weighted: with committee size 1 and stakes 1:2:3:4, the 4-ether node
    /// is picked about 40% of the time over many seeds (prevrandao).
    function test_CommitteeSelectionIsStakeWeighted() public {
        deployAll(address(0), 1);
        liar = registerNode(liarPk, 1 ether);
        for (uint256 i = 0; i < 4; i++) {
            registerNode(otherPks[i], (i + 1) * 1 ether);
        }
        uint256[4] memory hits;
        uint256 runs = 200;
        for (uint256 k = 0; k < runs; k++) {
            ProvaReceipts.Receipt memory a = receipt(liar, bytes32(k), WRONG);
            ProvaReceipts.Receipt memory b = receipt(vm.addr(key(50)), bytes32(k), OUTPUT);
            vm.prevrandao(keccak256(abi.encode("seed", k)));
            bytes memory sa = signReceipt(liarPk, a);
            bytes memory sb = signReceipt(key(50), b);
            uint256 id = settlement.reportConflict(a, sa, b, sb, "");
            address m = settlement.committeeOf(id)[0];
            for (uint256 i = 0; i < 4; i++) {
                if (m == others[i]) hits[i]++;
            }
        }
        // Expected 20, 40, 60, 80 of 200; allow wide margins (binomial sd ≈ 6-7).
        assertTrue(hits[0] >= 5 && hits[0] <= 40, "1-ether node");
        assertTrue(hits[3] >= 55 && hits[3] <= 105, "4-ether node");
        assertTrue(hits[3] > hits[0], "more stake, more seats");
        assertEq(hits[0] + hits[1] + hits[2] + hits[3], runs, "always one of the others");
    }
}
